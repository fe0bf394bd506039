/* sensor/community_id: not written yet */
