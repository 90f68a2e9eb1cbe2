package aritest

import (
	"net/http"
	"slices"
	"strings"
)

// The small resources: ping, info, global variables, applications,
// endpoints and device states.

func (s *Server) ping(req) reply {
	return ok(obj{{"ping", "pong"}, {"timestamp", ts(s.now())}, {"asterisk_id", s.opts.AsteriskID}})
}

func (s *Server) info(r req) reply {
	parts := map[string]obj{
		"build": {{"os", "Linux"}, {"kernel", "simulated"}, {"machine", "x86_64"}, {"options", "OPTIONAL_API"},
			{"date", s.start.Format("2006-01-02 15:04:05 UTC")}, {"user", "root"}},
		"system": {{"version", "22.10.1"}, {"entity_id", s.opts.AsteriskID}},
		"config": {{"name", ""}, {"default_language", "en"}, {"setid", obj{{"user", ""}, {"group", ""}}}},
		"status": {{"startup_time", ts(s.start)}, {"last_reload_time", ts(s.start)}},
	}
	only := map[string]bool{}
	for _, o := range strings.Split(r.get("only"), ",") {
		if o != "" {
			only[o] = true
		}
	}
	var out obj
	for _, k := range []string{"build", "system", "config", "status"} {
		if len(only) == 0 || only[k] {
			out = append(out, kv{k, parts[k]})
		}
	}
	return ok(out)
}

func (s *Server) getGlobal(r req) reply {
	name := r.get("variable")
	if name == "" {
		return fail(http.StatusBadRequest, "Variable name is required")
	}
	v, found := s.globals[name]
	if !found {
		return fail(http.StatusNotFound, "Provided variable was not found")
	}
	return ok(obj{{"value", v}})
}

func (s *Server) setGlobal(r req) reply {
	name := r.get("variable")
	if name == "" {
		return fail(http.StatusBadRequest, "Variable name is required")
	}
	s.globals[name] = r.get("value")
	// A global variable's ChannelVarset has no channel.
	s.emit(s.eventFirst("ChannelVarset", []kv{{"variable", name}, {"value", r.get("value")}}), subject{})
	return noContent()
}

func (s *Server) appJSON(app string, all bool) obj {
	ch, br, ep, dev := []string{}, []string{}, []string{}, []string{}
	if all {
		ch, br, ep, dev = []string{"__AST_CHANNEL_ALL_TOPIC"}, []string{"__AST_BRIDGE_ALL_TOPIC"},
			[]string{"__AST_ENDPOINT_ALL_TOPIC"}, []string{"__AST_DEVICE_STATE_ALL_TOPIC"}
	} else {
		for _, id := range s.order {
			if c := s.channels[id]; c.app == app {
				ch = append(ch, id)
			}
		}
	}
	return obj{{"name", app}, {"channel_ids", ch}, {"bridge_ids", br}, {"endpoint_ids", ep}, {"device_names", dev},
		{"events_allowed", []string{}}, {"events_disallowed", []string{}}}
}

func (s *Server) apps() map[string]bool {
	out := map[string]bool{}
	for c := range s.conns {
		out[c.app] = out[c.app] || c.all
	}
	return out
}

func (s *Server) listApps(req) reply {
	apps := s.apps()
	names := make([]string, 0, len(apps))
	for n := range apps {
		names = append(names, n)
	}
	slices.Sort(names)
	out := []obj{}
	for _, n := range names {
		out = append(out, s.appJSON(n, apps[n]))
	}
	return ok(out)
}

func (s *Server) getApp(r req) reply {
	all, found := s.apps()[r.params[0]]
	if !found {
		return fail(http.StatusNotFound, "Application not found")
	}
	return ok(s.appJSON(r.params[0], all))
}

func (s *Server) sortedEndpoints(tech string) []*endpoint {
	var out []*endpoint
	for _, e := range s.endpoints {
		if tech == "" || e.tech == tech {
			out = append(out, e)
		}
	}
	// Configuration order: the trunk first, then the agents by name.
	slices.SortFunc(out, func(a, b *endpoint) int {
		if a.trunk != b.trunk {
			if a.trunk {
				return -1
			}
			return 1
		}
		return strings.Compare(a.resource, b.resource)
	})
	return out
}

func (s *Server) listEndpoints(req) reply {
	out := []obj{}
	for _, e := range s.sortedEndpoints("") {
		out = append(out, s.endpointJSON(e))
	}
	return ok(out)
}

func (s *Server) listEndpointsByTech(r req) reply {
	eps := s.sortedEndpoints(r.params[0])
	if len(eps) == 0 {
		return fail(http.StatusNotFound, "Endpoints not found")
	}
	out := []obj{}
	for _, e := range eps {
		out = append(out, s.endpointJSON(e))
	}
	return ok(out)
}

func (s *Server) getEndpoint(r req) reply {
	e := s.endpoints[r.params[0]+"/"+r.params[1]]
	if e == nil {
		return fail(http.StatusNotFound, "Endpoint not found")
	}
	return ok(s.endpointJSON(e))
}

// Device states set by applications (Stasis:<name>).
func (s *Server) listDevices(req) reply {
	out := []obj{}
	var names []string
	for n := range s.devices {
		if strings.HasPrefix(n, "Stasis:") {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		out = append(out, obj{{"name", n}, {"state", s.devices[n]}})
	}
	return ok(out)
}

func (s *Server) getDevice(r req) reply {
	st, found := s.devices[r.params[0]]
	if !found || !strings.HasPrefix(r.params[0], "Stasis:") {
		return fail(http.StatusNotFound, "Device name is not a Stasis device")
	}
	return ok(obj{{"name", r.params[0]}, {"state", st}})
}

func (s *Server) putDevice(r req) reply {
	if !strings.HasPrefix(r.params[0], "Stasis:") {
		return fail(http.StatusConflict, "Uncontrolled device specified")
	}
	st := r.get("deviceState")
	if st == "" {
		return fail(http.StatusBadRequest, "Missing parameter deviceState")
	}
	s.device(r.params[0], st)
	return noContent()
}
