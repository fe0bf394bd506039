/* output/fingerprint: not written yet */
