package aritest

import (
	"encoding/binary"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

type playback struct {
	id, target, language string
	media                []string
	at                   int // the item playing
	state                string
	subj                 subject
	started              time.Time
}

func (p *playback) json() obj {
	o := obj{{"id", p.id}, {"media_uri", p.media[p.at]}}
	if p.at+1 < len(p.media) {
		o = append(o, kv{"next_media_uri", p.media[p.at+1]})
	}
	return append(o, kv{"target_uri", p.target}, kv{"language", p.language}, kv{"state", p.state})
}

func (s *Server) sortedPlaybacks() []*playback {
	out := make([]*playback, 0, len(s.playbacks))
	for _, pb := range s.playbacks {
		out = append(out, pb)
	}
	slices.SortFunc(out, func(a, b *playback) int { return a.started.Compare(b.started) })
	return out
}

func (s *Server) playEvent(typ string, pb *playback) {
	s.emit(s.event(typ, kv{"playback", pb.json()}), pb.subj)
}

// play starts a playback: one item after another, as a comma-separated
// media list plays. Repeated media= parameters are not a list: Asterisk
// plays only the last one.
func (s *Server) play(r req, target, language string, subj subject) reply {
	medias := r.q["media"]
	if len(medias) == 0 || medias[len(medias)-1] == "" {
		return fail(http.StatusBadRequest, "missing parameter media")
	}
	id := r.get("playbackId")
	if len(r.params) > 1 {
		id = r.params[1]
	}
	if id == "" {
		id = uuid()
	}
	if s.playbacks[id] != nil {
		return fail(http.StatusConflict, "Playback with the same id already exists")
	}
	if l := r.get("lang"); l != "" {
		language = l
	}
	pb := &playback{id: id, target: target, language: language, media: strings.Split(medias[len(medias)-1], ","),
		state: "queued", subj: subj, started: s.now()}
	s.playbacks[id] = pb
	answer := pb.json()
	pb.state = "playing"
	s.playEvent("PlaybackStarted", pb)
	s.schedule(pb)
	return created(answer)
}

func (s *Server) schedule(pb *playback) {
	at := pb.at
	s.after(s.opts.MediaDuration(pb.media[at]), func() {
		if s.playbacks[pb.id] != pb || pb.at != at {
			return
		}
		if pb.at+1 < len(pb.media) {
			pb.state = "continuing"
			s.playEvent("PlaybackContinuing", pb)
			pb.at++
			pb.state = "playing"
			s.playEvent("PlaybackStarted", pb)
			s.schedule(pb)
			return
		}
		s.finishPlayback(pb, "done")
	})
}

func (s *Server) finishPlayback(pb *playback, state string) {
	if s.playbacks[pb.id] != pb {
		return
	}
	delete(s.playbacks, pb.id)
	pb.state = state
	s.playEvent("PlaybackFinished", pb)
}

func (s *Server) playChannel(r req) reply {
	c, bad := s.stasisChannel(r.params[0])
	if bad != nil {
		return *bad
	}
	if c.caller != nil {
		c.caller.heard(r.q)
	}
	return s.play(r, "channel:"+c.id, c.language, c.subj())
}

func (s *Server) playBridge(r req) reply {
	b, bad := s.bridge(r.params[0])
	if bad != nil {
		return *bad
	}
	for _, id := range b.members {
		if c := s.channels[id]; c != nil && c.caller != nil {
			c.caller.heard(r.q)
		}
	}
	return s.play(r, "bridge:"+b.id, "en", subject{bridge: b.id, appBridge: true})
}

func (s *Server) getPlayback(r req) reply {
	pb := s.playbacks[r.params[0]]
	if pb == nil {
		return fail(http.StatusNotFound, "Playback not found")
	}
	return ok(pb.json())
}

func (s *Server) stopPlayback(r req) reply {
	pb := s.playbacks[r.params[0]]
	if pb == nil {
		return fail(http.StatusNotFound, "Playback not found")
	}
	s.finishPlayback(pb, "done")
	return noContent()
}

// --- recordings ---

type recording struct {
	name, format, target, state string
	started                     time.Time
	subj                        subject
}

func (rec *recording) json() obj {
	return obj{{"name", rec.name}, {"format", rec.format}, {"state", rec.state}, {"target_uri", rec.target}}
}

type stored struct {
	name, format string
	data         []byte
}

func (s *Server) record(r req, target string, subj subject) reply {
	name, format := r.get("name"), r.get("format")
	if name == "" || format == "" {
		return fail(http.StatusBadRequest, "Invalid parameters")
	}
	if format != "wav" {
		return fail(http.StatusUnprocessableEntity, "The format specified is unknown on this system")
	}
	if s.live[name] != nil || (s.stored[name] != nil && r.get("ifExists") != "overwrite" && r.get("ifExists") != "append") {
		return fail(http.StatusConflict, "A recording with the same name already exists on the system")
	}
	rec := &recording{name: name, format: format, target: target, state: "queued", started: s.now(), subj: subj}
	s.live[name] = rec
	answer := rec.json()
	rec.state = "recording"
	s.emit(s.event("RecordingStarted", kv{"recording", rec.json()}), subj)
	if n, _ := strconv.Atoi(r.get("maxDurationSeconds")); n > 0 {
		s.after(time.Duration(n)*time.Second, func() {
			if s.live[name] == rec {
				s.finishRecording(rec)
			}
		})
	}
	return created(answer)
}

// finishRecording stops a recording and stores it as a silent WAV file
// as long as it ran.
func (s *Server) finishRecording(rec *recording) {
	if s.live[rec.name] != rec {
		return
	}
	delete(s.live, rec.name)
	d := s.now().Sub(rec.started)
	rec.state = "done"
	secs := int(d.Round(time.Second) / time.Second)
	s.stored[rec.name] = &stored{name: rec.name, format: rec.format, data: silentWAV(d)}
	s.emit(s.event("RecordingFinished", kv{"recording", rec.json().with("duration", secs)}), rec.subj)
}

// silentWAV is d of 8 kHz mono 16-bit PCM silence.
func silentWAV(d time.Duration) []byte {
	samples := int(d.Seconds() * 8000)
	data := samples * 2
	b := make([]byte, 44+data)
	copy(b[0:], "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+data))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1)
	binary.LittleEndian.PutUint16(b[22:], 1)
	binary.LittleEndian.PutUint32(b[24:], 8000)
	binary.LittleEndian.PutUint32(b[28:], 16000)
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(data))
	return b
}

func (s *Server) recordChannel(r req) reply {
	c, bad := s.stasisChannel(r.params[0])
	if bad != nil {
		return *bad
	}
	return s.record(r, "channel:"+c.id, c.subj())
}

func (s *Server) recordBridge(r req) reply {
	b, bad := s.bridge(r.params[0])
	if bad != nil {
		return *bad
	}
	return s.record(r, "bridge:"+b.id, subject{bridge: b.id, appBridge: true})
}

func (s *Server) getLive(r req) reply {
	rec := s.live[r.params[0]]
	if rec == nil {
		return fail(http.StatusNotFound, "Recording not found")
	}
	return ok(rec.json())
}

func (s *Server) stopLive(r req) reply {
	rec := s.live[r.params[0]]
	if rec == nil {
		return fail(http.StatusNotFound, "Recording not found")
	}
	s.finishRecording(rec)
	return noContent()
}

func (s *Server) cancelLive(r req) reply {
	rec := s.live[r.params[0]]
	if rec == nil {
		return fail(http.StatusNotFound, "Recording not found")
	}
	delete(s.live, rec.name)
	return noContent()
}

func (s *Server) liveNoop(r req) reply {
	if s.live[r.params[0]] == nil {
		return fail(http.StatusNotFound, "Recording not found")
	}
	return noContent()
}

func (s *Server) listStored(req) reply {
	out := []obj{}
	names := make([]string, 0, len(s.stored))
	for n := range s.stored {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		out = append(out, obj{{"name", n}, {"format", s.stored[n].format}})
	}
	return ok(out)
}

func (s *Server) getStored(r req) reply {
	st := s.stored[r.params[0]]
	if st == nil {
		return fail(http.StatusNotFound, "Recording not found")
	}
	return ok(obj{{"name", st.name}, {"format", st.format}})
}

func (s *Server) deleteStored(r req) reply {
	if s.stored[r.params[0]] == nil {
		return fail(http.StatusNotFound, "Recording not found")
	}
	delete(s.stored, r.params[0])
	return noContent()
}

func (s *Server) storedFile(r req) reply {
	st := s.stored[r.params[0]]
	if st == nil {
		return fail(http.StatusNotFound, "Recording not found")
	}
	return reply{status: http.StatusOK, raw: slices.Clone(st.data), ctype: "audio/wav"}
}

func (s *Server) copyStored(r req) reply {
	st := s.stored[r.params[0]]
	if st == nil {
		return fail(http.StatusNotFound, "Recording not found")
	}
	dest := r.get("destinationRecordingName")
	if dest == "" {
		return fail(http.StatusBadRequest, "Invalid parameters")
	}
	if s.stored[dest] != nil {
		return fail(http.StatusConflict, "A recording with the same name already exists on the system")
	}
	s.stored[dest] = &stored{name: dest, format: st.format, data: slices.Clone(st.data)}
	return ok(obj{{"name", dest}, {"format", st.format}})
}

// StoredRecordings lists the stored recordings' names.
func (s *Server) StoredRecordings() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.stored {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
