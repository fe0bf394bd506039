/* rules/match: not written yet */
