# coordinator/: everything that speaks to ZooKeeper, and brookctl.
