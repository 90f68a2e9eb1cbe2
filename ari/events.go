package ari

import (
	"encoding/json"
	"fmt"
)

// Event is one message of the events WebSocket.
type Event interface {
	// Base returns the fields every event has.
	Base() *EventBase
}

// EventBase is what every event carries.
type EventBase struct {
	Type        string `json:"type"`
	Timestamp   Time   `json:"timestamp"`
	AsteriskID  string `json:"asterisk_id"`
	Application string `json:"application"`
}

func (e *EventBase) Base() *EventBase { return e }

// StasisStart: a channel entered the application. Args are the dialplan's
// Stasis() arguments ([] for plain Stasis(hotline)).
type StasisStart struct {
	EventBase
	Args           []string `json:"args"`
	Channel        Channel  `json:"channel"`
	ReplaceChannel *Channel `json:"replace_channel,omitempty"`
}

// StasisEnd: a channel left the application (hung up, or continued into
// the dialplan).
type StasisEnd struct {
	EventBase
	Channel Channel `json:"channel"`
}

// ChannelCreated, ChannelStateChange, ChannelConnectedLine: a channel
// snapshot after the change.
type ChannelCreated struct {
	EventBase
	Channel Channel `json:"channel"`
}

type ChannelStateChange struct {
	EventBase
	Channel Channel `json:"channel"`
}

type ChannelConnectedLine struct {
	EventBase
	Channel Channel `json:"channel"`
}

// ChannelCallerId fires on a caller id change only.
type ChannelCallerId struct {
	EventBase
	CallerPresentation    int     `json:"caller_presentation"`
	CallerPresentationTxt string  `json:"caller_presentation_txt"`
	Channel               Channel `json:"channel"`
}

// ChannelDestroyed: the channel is gone. Cause is the Q.850 cause (0
// "Unknown" for a caller's BYE, 127 with tech_cause 487 for a CANCEL, 17
// with 486 for busy).
type ChannelDestroyed struct {
	EventBase
	Cause     int     `json:"cause"`
	CauseTxt  string  `json:"cause_txt"`
	TechCause int     `json:"tech_cause,omitempty"`
	Channel   Channel `json:"channel"`
}

// ChannelHangupRequest: someone asked for a hang-up. When Soft is set,
// Cause is Asterisk's soft-hangup flag (32 explicit, 16 app unload), not a
// Q.850 cause; a caller's BYE comes without a cause at all. The real cause
// is on ChannelDestroyed.
type ChannelHangupRequest struct {
	EventBase
	Cause     int     `json:"cause,omitempty"`
	Soft      bool    `json:"soft,omitempty"`
	TechCause int     `json:"tech_cause,omitempty"`
	Channel   Channel `json:"channel"`
}

// ChannelDialplan: the channel moved in the dialplan.
type ChannelDialplan struct {
	EventBase
	DialplanApp     string  `json:"dialplan_app"`
	DialplanAppData string  `json:"dialplan_app_data"`
	Channel         Channel `json:"channel"`
}

// ChannelVarset: a variable changed. Channel is nil for a global variable.
type ChannelVarset struct {
	EventBase
	Variable string   `json:"variable"`
	Value    string   `json:"value"`
	Channel  *Channel `json:"channel,omitempty"`
}

// ChannelDtmfReceived: the caller pressed a key (RFC 4733 or SIP INFO).
type ChannelDtmfReceived struct {
	EventBase
	Digit      string  `json:"digit"`
	DurationMS int     `json:"duration_ms"`
	Channel    Channel `json:"channel"`
}

// ChannelEnteredBridge and ChannelLeftBridge.
type ChannelEnteredBridge struct {
	EventBase
	Bridge  Bridge  `json:"bridge"`
	Channel Channel `json:"channel"`
}

type ChannelLeftBridge struct {
	EventBase
	Bridge  Bridge  `json:"bridge"`
	Channel Channel `json:"channel"`
}

// Dial statuses of the Dial event ("" while dialling).
const (
	DialRinging     = "RINGING"
	DialAnswer      = "ANSWER"
	DialBusy        = "BUSY"
	DialNoAnswer    = "NOANSWER"
	DialCancel      = "CANCEL"
	DialCongestion  = "CONGESTION"
	DialChanUnavail = "CHANUNAVAIL"
	DialProgress    = "PROGRESS"
)

// Dial reports the progress of a dialled channel (Peer). Asterisk leaves
// out the caller even when the dial named one.
type Dial struct {
	EventBase
	DialStatus string   `json:"dialstatus"`
	Forward    string   `json:"forward"`
	DialString string   `json:"dialstring"`
	Peer       Channel  `json:"peer"`
	Caller     *Channel `json:"caller,omitempty"`
	Forwarded  *Channel `json:"forwarded,omitempty"`
}

// Playback events. A playlist gives one PlaybackStarted per item, a
// PlaybackContinuing between items and one PlaybackFinished.
type PlaybackStarted struct {
	EventBase
	Playback Playback `json:"playback"`
}

type PlaybackContinuing struct {
	EventBase
	Playback Playback `json:"playback"`
}

type PlaybackFinished struct {
	EventBase
	Playback Playback `json:"playback"`
}

// Recording events.
type RecordingStarted struct {
	EventBase
	Recording LiveRecording `json:"recording"`
}

type RecordingFinished struct {
	EventBase
	Recording LiveRecording `json:"recording"`
}

type RecordingFailed struct {
	EventBase
	Recording LiveRecording `json:"recording"`
}

// Bridge events.
type BridgeCreated struct {
	EventBase
	Bridge Bridge `json:"bridge"`
}

type BridgeDestroyed struct {
	EventBase
	Bridge Bridge `json:"bridge"`
}

// BridgeVideoSourceChanged: the bridge's video source changed (the source
// left, or the app set one).
type BridgeVideoSourceChanged struct {
	EventBase
	Bridge           Bridge `json:"bridge"`
	OldVideoSourceID string `json:"old_video_source_id,omitempty"`
}

// DeviceState is a device's state (INUSE, NOT_INUSE, RINGING, …).
type DeviceState struct {
	Name  string `json:"name"`
	State string `json:"state"`
}

type DeviceStateChanged struct {
	EventBase
	DeviceState DeviceState `json:"device_state"`
}

// Peer is a SIP peer's reachability.
type Peer struct {
	PeerStatus string `json:"peer_status"`
	Cause      string `json:"cause,omitempty"`
	Address    string `json:"address,omitempty"`
	Port       string `json:"port,omitempty"`
	Time       string `json:"time,omitempty"`
}

type PeerStatusChange struct {
	EventBase
	Endpoint Endpoint `json:"endpoint"`
	Peer     Peer     `json:"peer"`
}

// ContactInfo is a registered contact. RoundtripUsec is a string in
// Asterisk 22 ("0"), not a number.
type ContactInfo struct {
	URI           string `json:"uri"`
	ContactStatus string `json:"contact_status"`
	AOR           string `json:"aor"`
	RoundtripUsec string `json:"roundtrip_usec"`
}

type ContactStatusChange struct {
	EventBase
	Endpoint    Endpoint    `json:"endpoint"`
	ContactInfo ContactInfo `json:"contact_info"`
}

type EndpointStateChange struct {
	EventBase
	Endpoint Endpoint `json:"endpoint"`
}

// ApplicationReplaced: another WebSocket took the application over.
type ApplicationReplaced struct {
	EventBase
}

// UnknownEvent is an event type this client does not model; Raw is the
// frame as received.
type UnknownEvent struct {
	EventBase
	Raw json.RawMessage `json:"-"`
}

func newEvent(typ string) Event {
	switch typ {
	case "StasisStart":
		return &StasisStart{}
	case "StasisEnd":
		return &StasisEnd{}
	case "ChannelCreated":
		return &ChannelCreated{}
	case "ChannelStateChange":
		return &ChannelStateChange{}
	case "ChannelConnectedLine":
		return &ChannelConnectedLine{}
	case "ChannelCallerId":
		return &ChannelCallerId{}
	case "ChannelDestroyed":
		return &ChannelDestroyed{}
	case "ChannelHangupRequest":
		return &ChannelHangupRequest{}
	case "ChannelDialplan":
		return &ChannelDialplan{}
	case "ChannelVarset":
		return &ChannelVarset{}
	case "ChannelDtmfReceived":
		return &ChannelDtmfReceived{}
	case "ChannelEnteredBridge":
		return &ChannelEnteredBridge{}
	case "ChannelLeftBridge":
		return &ChannelLeftBridge{}
	case "Dial":
		return &Dial{}
	case "PlaybackStarted":
		return &PlaybackStarted{}
	case "PlaybackContinuing":
		return &PlaybackContinuing{}
	case "PlaybackFinished":
		return &PlaybackFinished{}
	case "RecordingStarted":
		return &RecordingStarted{}
	case "RecordingFinished":
		return &RecordingFinished{}
	case "RecordingFailed":
		return &RecordingFailed{}
	case "BridgeCreated":
		return &BridgeCreated{}
	case "BridgeDestroyed":
		return &BridgeDestroyed{}
	case "BridgeVideoSourceChanged":
		return &BridgeVideoSourceChanged{}
	case "DeviceStateChanged":
		return &DeviceStateChanged{}
	case "PeerStatusChange":
		return &PeerStatusChange{}
	case "ContactStatusChange":
		return &ContactStatusChange{}
	case "EndpointStateChange":
		return &EndpointStateChange{}
	case "ApplicationReplaced":
		return &ApplicationReplaced{}
	}
	return nil
}

// DecodeEvent reads one WebSocket frame. An event type the client does
// not model comes back as *UnknownEvent, not as an error.
func DecodeEvent(frame []byte) (Event, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(frame, &head); err != nil {
		return nil, fmt.Errorf("ari: event: %w", err)
	}
	if head.Type == "" {
		return nil, fmt.Errorf("ari: event without a type")
	}
	ev := newEvent(head.Type)
	if ev == nil {
		u := &UnknownEvent{Raw: append(json.RawMessage(nil), frame...)}
		if err := json.Unmarshal(frame, &u.EventBase); err != nil {
			return nil, fmt.Errorf("ari: event %s: %w", head.Type, err)
		}
		return u, nil
	}
	if err := json.Unmarshal(frame, ev); err != nil {
		return nil, fmt.Errorf("ari: event %s: %w", head.Type, err)
	}
	return ev, nil
}
