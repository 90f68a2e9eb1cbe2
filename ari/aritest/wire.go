package aritest

import (
	"bytes"
	"encoding/json"
	"time"
)

// The simulator writes JSON the way Asterisk does: compact, UTF-8 raw (no
// \u escapes, no HTML escaping), and with Asterisk's own key order, which
// is not alphabetical and differs between event types (ChannelVarset and
// ChannelHangupRequest put their own fields before "type";
// DeviceStateChanged puts "application" second). Its wire types are its
// own, not the client's: the replay test holds them to the captures, and
// the client's tests hold the client to the same captures.

// kv is one member of an ordered object.
type kv struct {
	k string
	v any
}

// obj is a JSON object that keeps its key order.
type obj []kv

func (o obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(encode(m.k))
		b.WriteByte(':')
		b.Write(encode(m.v))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// with returns o with a member put in place of the one named at, or at
// the end.
func (o obj) with(k string, v any) obj {
	for i := range o {
		if o[i].k == k {
			out := append(obj(nil), o...)
			out[i].v = v
			return out
		}
	}
	return append(append(obj(nil), o...), kv{k, v})
}

// encode writes v as compact JSON without HTML escaping.
func encode(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only the simulator's own values end here.
		panic("aritest: encode: " + err.Error())
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// appName stands for the "application" member of an event; it is filled
// in for each application the event goes to.
type appName struct{}

// ts writes a time as Asterisk does: 2026-11-27T02:33:50.213+0000.
func ts(t time.Time) string { return t.Format("2006-01-02T15:04:05.000-0700") }

// event starts an event with type and timestamp; fields follow, then
// asterisk_id and application.
func (s *Server) event(typ string, fields ...kv) obj {
	o := obj{{"type", typ}, {"timestamp", ts(s.now())}}
	o = append(o, fields...)
	return append(o, kv{"asterisk_id", s.opts.AsteriskID}, kv{"application", appName{}})
}

// eventFirst is an event whose own fields come before "type"
// (ChannelVarset, ChannelHangupRequest).
func (s *Server) eventFirst(typ string, first []kv, rest ...kv) obj {
	o := append(obj(nil), first...)
	o = append(o, kv{"type", typ}, kv{"timestamp", ts(s.now())})
	o = append(o, rest...)
	return append(o, kv{"asterisk_id", s.opts.AsteriskID}, kv{"application", appName{}})
}

// forApp fills in the application an event goes to.
func forApp(o obj, app string) obj {
	out := make(obj, len(o))
	copy(out, o)
	for i := range out {
		if _, ok := out[i].v.(appName); ok {
			out[i].v = app
		}
	}
	return out
}

func message(text string) obj { return obj{{"message", text}} }
