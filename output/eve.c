/* output/eve: not written yet */
