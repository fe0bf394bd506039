/* sensor/reassembly: not written yet */
