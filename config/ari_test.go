package config

import (
	"strings"
	"testing"
	"time"
)

// The ARI keys the phone channel over Asterisk adds: prompts by known
// name and as media URIs, a menu timeout and a recording size limit.
func TestValidateARI(t *testing.T) {
	tests := []struct {
		name string
		set  func(c *Config)
		want string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"prompts", func(c *Config) {
			c.ARI.Prompts = map[string]string{"language": "en", "greeting": "sound:welcome", "menu": "recording:menu"}
		}, ""},
		{"unknown prompt", func(c *Config) { c.ARI.Prompts = map[string]string{"greting": "sound:x"} }, "ari.prompts.greting"},
		{"prompt not a URI", func(c *Config) { c.ARI.Prompts = map[string]string{"hold": "hold-music"} }, "ari.prompts.hold"},
		{"negative timeout", func(c *Config) { c.ARI.MenuTimeout = Duration(-time.Second) }, "ari.menu_timeout"},
		{"negative size", func(c *Config) { c.ARI.RecordingMaxBytes = -1 }, "ari.recording_max_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.set(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
	if d := Default().ARI; d.MenuTimeout.Std() != 5*time.Second || d.RecordingMaxBytes != 20<<20 {
		t.Errorf("defaults: %+v", d)
	}
}
