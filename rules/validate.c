/* rules/validate: not written yet */
