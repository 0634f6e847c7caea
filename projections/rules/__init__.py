"""The scoring rules of rules.md as pure functions: `windows` (which contracts count, how
long, with what weight) and `score` (the JSS and the feedback score at a cut). The rule
sets and a contract's outcome are the domain's: `reputation.rulesets`, `reputation.outcome`."""
