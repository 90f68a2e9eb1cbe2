package main

import (
	"bytes"
	encbinary "encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-desk/hotline/internal/testenv"
)

// A real softphone: baresip registers with digest auth, rings on a call from
// the carrier, answers it by itself, and the caller hangs up; the ticket
// says who answered.
func TestSIPBaresipSoftphone(t *testing.T) {
	baresip := testenv.Command(t, "baresip")
	g := startSIPGateway(t, sipOptions{ringSeconds: 10})
	dir := t.TempDir()
	tone := filepath.Join(dir, "tone.wav")
	if err := os.WriteFile(tone, sineWAV(8000, 440, 3*time.Second), 0o644); err != nil {
		t.Fatal(err)
	}
	// A headless phone: the microphone is a WAV file, the speaker another.
	config := fmt.Sprintf(`poll_method epoll
sip_listen 127.0.0.1:%d
audio_player aufile,%s
audio_source aufile,%s
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module_app account.so
module_app menu.so
`, freeLoopbackPort(t), filepath.Join(dir, "heard.wav"), tone)
	account := fmt.Sprintf("<sip:zhang@%s>;auth_pass=zhang-secret;answermode=auto;regint=60\n", g.sipAddr())
	for name, text := range map[string]string{"config": config, "accounts": account} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	phone := exec.Command(baresip, "-f", dir, "-t", "60")
	var out lockedBuffer
	phone.Stdout, phone.Stderr = &out, &out
	if err := phone.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		phone.Process.Kill()
		phone.Wait()
		if t.Failed() {
			t.Logf("baresip:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for g.metric(t, "hotline_sip_registrations") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("baresip did not register within 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	caller := g.call(t, "caller", "caller.xml", "-m", "1", "-d", "1000")
	caller.wait(t, 20*time.Second)
	tk := g.waitEvent(t, "call_ended")
	if a, _ := event(tk, "call_answered"); a["agent"] != "zhang" || a["target"] != "softphone" {
		t.Fatalf("answered event: %v", a)
	}
	if !strings.Contains(out.String(), "Call established") {
		t.Fatalf("baresip never had the call established")
	}
}

// sineWAV is a mono 16-bit PCM WAV of a tone.
func sineWAV(rate, hz int, d time.Duration) []byte {
	n := int(d.Seconds() * float64(rate))
	var b bytes.Buffer
	le := func(v any) { encbinary.Write(&b, encbinary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1)) // PCM
	le(uint16(1)) // mono
	le(uint32(rate))
	le(uint32(2 * rate))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	for i := 0; i < n; i++ {
		le(int16(8000 * math.Sin(2*math.Pi*float64(hz)*float64(i)/float64(rate))))
	}
	return b.Bytes()
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
