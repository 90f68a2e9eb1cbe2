package sip

import (
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The UDP socket gets the buffers asked for, up to the kernel's cap: with
// Linux's default a short pause under load drops datagrams.
func TestListenSizesTheUDPBuffers(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0"}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.ua.Close()
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	defer s.udp.Close()
	defer s.tcp.Close()
	for _, c := range []struct {
		opt   int
		limit string
	}{
		{syscall.SO_RCVBUF, "/proc/sys/net/core/rmem_max"},
		{syscall.SO_SNDBUF, "/proc/sys/net/core/wmem_max"},
	} {
		raw, err := os.ReadFile(c.limit)
		if err != nil {
			t.Fatal(err)
		}
		max, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := socketBuffer(s.udp.(*net.UDPConn), c.opt)
		if err != nil {
			t.Fatal(err)
		}
		if want := min(udpSocketBuffer, max); got < want {
			t.Errorf("%s: buffer %d bytes, want %d (min of %d and the kernel's cap %d)", c.limit, got, want, udpSocketBuffer, max)
		}
	}
}
