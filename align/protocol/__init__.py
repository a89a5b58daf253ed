"""Clinical domain knowledge, pure Python (no torch): triage rules, vitals, dosing, schema."""
