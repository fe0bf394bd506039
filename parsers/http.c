/* parsers/http: not written yet */
