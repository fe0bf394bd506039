/* sensor/flow: not written yet */
