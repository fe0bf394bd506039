/* sensor/dpi: not written yet */
