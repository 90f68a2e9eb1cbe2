package ari

// The resources, with the JSON names of Asterisk's API description (ARI
// 2.0.0). Fields Asterisk leaves out are empty.

// CallerID is a name and number as Asterisk keeps them. UTF-8 names come
// through raw ("张三").
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// DialplanCEP is where a channel is in the dialplan.
type DialplanCEP struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int64  `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// Channel states, as Asterisk names them.
const (
	StateDown    = "Down"
	StateRsrved  = "Rsrved"
	StateOffHook = "OffHook"
	StateDialing = "Dialing"
	StateRing    = "Ring" // an inbound channel not yet answered
	StateRinging = "Ringing"
	StateUp      = "Up"
	StateBusy    = "Busy"
)

// Channel is a call leg. ProtocolID is the SIP Call-ID for PJSIP channels.
type Channel struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        string            `json:"state"`
	ProtocolID   string            `json:"protocol_id"`
	Caller       CallerID          `json:"caller"`
	Connected    CallerID          `json:"connected"`
	AccountCode  string            `json:"accountcode"`
	Dialplan     DialplanCEP       `json:"dialplan"`
	CreationTime Time              `json:"creationtime"`
	Language     string            `json:"language"`
	ChannelVars  map[string]string `json:"channelvars,omitempty"`
	CallerRDNIS  string            `json:"caller_rdnis,omitempty"`
	TenantID     string            `json:"tenantid,omitempty"`
}

// Bridge is a mixing (or holding) bridge.
type Bridge struct {
	ID            string   `json:"id"`
	Technology    string   `json:"technology"`
	BridgeType    string   `json:"bridge_type"`
	BridgeClass   string   `json:"bridge_class"`
	Creator       string   `json:"creator"`
	Name          string   `json:"name"`
	Channels      []string `json:"channels"`
	CreationTime  Time     `json:"creationtime"`
	VideoMode     string   `json:"video_mode"`
	VideoSourceID string   `json:"video_source_id,omitempty"`
}

// Playback states.
const (
	PlaybackQueued          = "queued"
	PlaybackPlaying         = "playing"
	PlaybackStateContinuing = "continuing"
	PlaybackDone            = "done"
	PlaybackFailed          = "failed"
)

// Playback is media playing to a channel or bridge. A playlist is one
// playback whose MediaURI moves along the list (NextMediaURI).
type Playback struct {
	ID           string `json:"id"`
	MediaURI     string `json:"media_uri"`
	NextMediaURI string `json:"next_media_uri,omitempty"`
	TargetURI    string `json:"target_uri"`
	Language     string `json:"language"`
	State        string `json:"state"`
}

// Recording states.
const (
	RecordingQueued      = "queued"
	RecordingRecording   = "recording"
	RecordingPaused      = "paused"
	RecordingDone        = "done"
	RecordingStateFailed = "failed"
	RecordingCanceled    = "canceled"
)

// LiveRecording is a recording in progress (or just ended, in events).
// Duration is whole seconds.
type LiveRecording struct {
	Name            string `json:"name"`
	Format          string `json:"format"`
	State           string `json:"state"`
	TargetURI       string `json:"target_uri"`
	Duration        int    `json:"duration,omitempty"`
	TalkingDuration int    `json:"talking_duration,omitempty"`
	SilenceDuration int    `json:"silence_duration,omitempty"`
	Cause           string `json:"cause,omitempty"`
}

// StoredRecording is a finished recording on Asterisk's disk.
type StoredRecording struct {
	Name   string `json:"name"`
	Format string `json:"format"`
}

// Endpoint is a PJSIP endpoint (an agent's softphone, a trunk).
type Endpoint struct {
	Technology string   `json:"technology"`
	Resource   string   `json:"resource"`
	State      string   `json:"state"` // online, offline, unknown
	ChannelIDs []string `json:"channel_ids"`
}

// Variable is a channel or global variable's value.
type Variable struct {
	Value string `json:"value"`
}

// AsteriskPing is GET /asterisk/ping's answer.
type AsteriskPing struct {
	Ping       string `json:"ping"`
	Timestamp  Time   `json:"timestamp"`
	AsteriskID string `json:"asterisk_id"`
}

// Application is a Stasis application's subscriptions.
type Application struct {
	Name        string   `json:"name"`
	ChannelIDs  []string `json:"channel_ids"`
	BridgeIDs   []string `json:"bridge_ids"`
	EndpointIDs []string `json:"endpoint_ids"`
	DeviceNames []string `json:"device_names"`
}
