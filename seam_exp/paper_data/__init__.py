"""The paper's own data, `lvwerra/stack-exchange-paired`, laid out as every data source is (seam_exp/data),
with an LLM judge as its gold (docs/data.md)."""
