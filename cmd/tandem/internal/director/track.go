package director

// trackQuorum gives every VRRP instance with track_virtual_servers the
// priority adjustment its tracked virtual servers call for: the sum of the
// weights of those that have lost their quorum (0 when all are up). The
// runner recomputes the priority only when it changes, so calling this
// after every health update is cheap.
func (d *Director) trackQuorum() {
	if d.vrrp == nil || d.health == nil || d.health.c == nil {
		return
	}
	down := map[string]bool{}
	for _, sh := range d.health.services {
		if !sh.Up {
			down[sh.Name] = true
		}
	}
	for _, v := range d.health.c.VRRP {
		delta := 0 // also for an instance a reload stopped tracking with
		for name, w := range v.TrackVirtualServers {
			if down[name] {
				delta += w
			}
		}
		d.vrrp.runner.SetTrack(v.Name, "virtual_servers", delta)
	}
}
