//go:build !linux

package sip

import (
	"errors"
	"net"
)

// socketBuffer is not read back outside Linux; the size asked for is used
// as the system allows.
func socketBuffer(*net.UDPConn, int) (int, error) {
	return 0, errors.New("socket buffer size not read on this system")
}
