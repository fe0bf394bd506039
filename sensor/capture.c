/* sensor/capture: not written yet */
