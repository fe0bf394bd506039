/* rules/ruleset: not written yet */
