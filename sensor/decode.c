/* sensor/decode: not written yet */
