/* output/mask: not written yet */
