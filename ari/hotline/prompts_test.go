package hotline

import (
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hotline-desk/hotline/internal/testenv"
)

// The prompt script makes every default prompt in Mandarin, the digits
// for the read-back, and the English fallbacks, as 8 kHz mono WAV.
func TestMakePrompts(t *testing.T) {
	testenv.Command(t, "espeak-ng")
	testenv.Command(t, "sox")
	script := filepath.Join(testenv.ModuleRoot(t), "deploy", "asterisk", "make-prompts.sh")
	dir := t.TempDir()
	out, err := exec.Command("bash", script, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("make-prompts.sh: %v\n%s", err, out)
	}
	p := DefaultPrompts
	var files []string
	for _, uri := range []string{p.Greeting, p.Menu, p.Invalid, p.TicketNumber, p.Hold, p.Unavailable} {
		name := strings.TrimPrefix(uri, "sound:")
		files = append(files, filepath.Join(dir, p.Language, name+".wav"), filepath.Join(dir, "en", name+".wav"))
	}
	for d := '0'; d <= '9'; d++ {
		files = append(files, filepath.Join(dir, p.Language, "digits", string(d)+".wav"))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Error(err)
			continue
		}
		if len(b) < 44 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
			t.Errorf("%s: not a WAV file", f)
			continue
		}
		channels, rate, bits := binary.LittleEndian.Uint16(b[22:]), binary.LittleEndian.Uint32(b[24:]), binary.LittleEndian.Uint16(b[34:])
		if channels != 1 || rate != 8000 || bits != 16 {
			t.Errorf("%s: %d channels, %d Hz, %d bits; want 1, 8000, 16", f, channels, rate, bits)
		}
		if len(b) < 44+8000*2/4 { // at least a quarter second
			t.Errorf("%s: only %d bytes of sound", f, len(b))
		}
	}
	zh, _ := os.ReadFile(filepath.Join(dir, p.Language, "hotline", "menu.wav"))
	en, _ := os.ReadFile(filepath.Join(dir, "en", "hotline", "menu.wav"))
	if len(zh) > 0 && string(zh) == string(en) {
		t.Error("the Mandarin menu is the English one")
	}
}

// The deploy dialplan sends the hotline into Stasis(hotline), and the
// endpoint names match the default dial strings.
func TestDeployConfigs(t *testing.T) {
	dir := filepath.Join(testenv.ModuleRoot(t), "deploy", "asterisk")
	ext, err := os.ReadFile(filepath.Join(dir, "extensions.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^exten => 4001160016,1,`).Match(ext) || !strings.Contains(string(ext), "same => n,Stasis(hotline)") {
		t.Error("extensions.conf does not send 4001160016 into Stasis(hotline)")
	}
	pj, _ := os.ReadFile(filepath.Join(dir, "pjsip.conf"))
	for _, want := range []string{"[carrier]\ntype = endpoint", "[carrier]\ntype = aor", "trust_id_inbound = yes", "[zhang](agent)"} {
		if !strings.Contains(string(pj), want) {
			t.Errorf("pjsip.conf lacks %q", want)
		}
	}
	ari, _ := os.ReadFile(filepath.Join(dir, "ari.conf"))
	if !strings.Contains(string(ari), "[hotline]\ntype = user") {
		t.Error("ari.conf has no hotline user")
	}
	http, _ := os.ReadFile(filepath.Join(dir, "http.conf"))
	if !strings.Contains(string(http), "bindport = 8088") {
		t.Error("http.conf does not serve ARI on 8088")
	}
}
