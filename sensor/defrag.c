/* sensor/defrag: not written yet */
