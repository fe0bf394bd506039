/* parsers/decompress: not written yet */
