package aritest

import (
	"net/http"
	"slices"
	"time"
)

type bridge struct {
	id, name, typ, technology string
	videoMode, videoSource    string
	created                   time.Time
	members                   []string
	app                       string // the application that made it
}

func (b *bridge) json() obj {
	o := obj{{"id", b.id}, {"technology", b.technology}, {"bridge_type", b.typ}, {"bridge_class", "stasis"},
		{"creator", "Stasis"}, {"name", b.name}, {"channels", append([]string{}, b.members...)},
		{"creationtime", ts(b.created)}, {"video_mode", b.videoMode}}
	if b.videoSource != "" {
		o = append(o, kv{"video_source_id", b.videoSource})
	}
	return o
}

func (b *bridge) subj() subject { return subject{bridge: b.id} }

// retech is the bridge technology Asterisk picks: two PJSIP channels
// alone go native_rtp, anything else mixes in simple_bridge.
func (s *Server) retech(b *bridge) {
	b.technology = "simple_bridge"
	if len(b.members) == 2 && !s.mediaOn(b) {
		b.technology = "native_rtp"
	}
}

// mediaOn reports whether a playback or recording is on the bridge.
func (s *Server) mediaOn(b *bridge) bool {
	for _, pb := range s.playbacks {
		if pb.target == "bridge:"+b.id {
			return true
		}
	}
	for _, rec := range s.live {
		if rec.target == "bridge:"+b.id {
			return true
		}
	}
	return false
}

func (s *Server) bridge(id string) (*bridge, *reply) {
	b := s.bridges[id]
	if b == nil {
		r := fail(http.StatusNotFound, "Bridge not found")
		return nil, &r
	}
	return b, nil
}

func (s *Server) listBridges(req) reply {
	out := []obj{}
	ids := make([]string, 0, len(s.bridges))
	for id := range s.bridges {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		out = append(out, s.bridges[id].json())
	}
	return ok(out)
}

func (s *Server) createBridge(r req) reply {
	id := r.get("bridgeId")
	if len(r.params) > 0 {
		id = r.params[0]
	}
	if id == "" {
		id = uuid()
	}
	if s.bridges[id] != nil {
		return fail(http.StatusConflict, "Bridge with the same bridgeId already exists")
	}
	typ := r.get("type")
	if typ == "" {
		typ = "mixing"
	}
	b := &bridge{id: id, name: r.get("name"), typ: typ, technology: "simple_bridge", videoMode: "talker", created: s.now(), app: "Stasis"}
	s.bridges[id] = b
	s.emit(s.event("BridgeCreated", kv{"bridge", b.json()}), b.subj())
	return ok(b.json())
}

func (s *Server) getBridge(r req) reply {
	b, bad := s.bridge(r.params[0])
	if bad != nil {
		return *bad
	}
	return ok(b.json())
}

func (s *Server) destroyBridge(r req) reply {
	b, bad := s.bridge(r.params[0])
	if bad != nil {
		return *bad
	}
	for _, pb := range s.sortedPlaybacks() {
		if pb.target == "bridge:"+b.id {
			s.finishPlayback(pb, "done")
		}
	}
	for _, rec := range s.live {
		if rec.target == "bridge:"+b.id {
			s.finishRecording(rec)
		}
	}
	for _, id := range slices.Clone(b.members) {
		if c := s.channels[id]; c != nil {
			s.leaveBridge(b, c)
		}
	}
	s.emit(s.event("BridgeDestroyed", kv{"bridge", b.json()}), b.subj())
	delete(s.bridges, b.id)
	return noContent()
}

func (s *Server) addChannel(r req) reply {
	b, bad := s.bridge(r.params[0])
	if bad != nil {
		return *bad
	}
	c := s.channels[r.get("channel")]
	if c == nil || c.gone {
		return fail(http.StatusBadRequest, "Channel not found")
	}
	if !c.inStasis {
		return fail(http.StatusUnprocessableEntity, "Channel not in Stasis application")
	}
	if c.bridge == b.id {
		return noContent()
	}
	if c.bridge != "" {
		if old := s.bridges[c.bridge]; old != nil {
			s.leaveBridge(old, c)
		}
	}
	b.members = append(b.members, c.id)
	c.bridge = b.id
	s.emit(s.event("ChannelEnteredBridge", kv{"bridge", b.json()}, kv{"channel", c.json()}), subject{channel: c.id, bridge: b.id})
	// Connected line: each channel learns who it now talks to.
	if len(b.members) == 2 {
		for i, id := range b.members {
			me, other := s.channels[id], s.channels[b.members[1-i]]
			if me == nil || other == nil {
				continue
			}
			if me.connName != other.callerName || me.connNum != other.callerNum {
				me.connName, me.connNum = other.callerName, other.callerNum
				s.chanEvent("ChannelConnectedLine", me)
			}
		}
	}
	s.retech(b)
	return noContent()
}

func (s *Server) leaveBridge(b *bridge, c *channel) {
	b.members = slices.DeleteFunc(b.members, func(id string) bool { return id == c.id })
	c.bridge = ""
	s.emit(s.event("ChannelLeftBridge", kv{"bridge", b.json()}, kv{"channel", c.json()}), subject{channel: c.id, bridge: b.id})
	b.technology = "simple_bridge"
	if b.videoSource == c.id {
		b.videoSource = ""
		s.emit(s.event("BridgeVideoSourceChanged", kv{"bridge", b.json()}, kv{"old_video_source_id", c.id}), b.subj())
	}
}

func (s *Server) removeChannel(r req) reply {
	b, bad := s.bridge(r.params[0])
	if bad != nil {
		return *bad
	}
	c := s.channels[r.get("channel")]
	if c == nil || c.gone {
		return fail(http.StatusBadRequest, "Channel not found")
	}
	if c.bridge != b.id {
		return fail(http.StatusUnprocessableEntity, "Channel not in this bridge")
	}
	s.leaveBridge(b, c)
	return noContent()
}

func (s *Server) bridgeMOH(r req) reply {
	if _, bad := s.bridge(r.params[0]); bad != nil {
		return *bad
	}
	return noContent()
}

func (s *Server) videoSource(r req) reply {
	b, bad := s.bridge(r.params[0])
	if bad != nil {
		return *bad
	}
	c := s.channels[r.params[1]]
	if c == nil {
		return fail(http.StatusNotFound, "Channel not found")
	}
	if c.bridge != b.id {
		return fail(http.StatusUnprocessableEntity, "Channel not in this Bridge")
	}
	b.videoMode, b.videoSource = "single", c.id
	s.emit(s.event("BridgeVideoSourceChanged", kv{"bridge", b.json()}), b.subj())
	return noContent()
}
