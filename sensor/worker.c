/* sensor/worker: not written yet */
