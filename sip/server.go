package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/hotline-desk/hotline/channels"
	"github.com/hotline-desk/hotline/metrics"
	"github.com/hotline-desk/hotline/ticketing"
)

// Intake is where calls become tickets: the journal-backed call intake
// (*channels.CallIntake), which never makes a call wait on a slow store.
type Intake interface {
	Submit(ctx context.Context, c channels.Contact) (channels.Receipt, error)
	Record(ctx context.Context, n channels.Note) error
}

// Roster gives the roster a new call is routed with (*channels.RosterHolder).
type Roster interface {
	Load() *channels.Roster
}

// Registry is the registrar's state (*channels.Registrations): bindings
// kept in the store and read from memory, and the lock-out of addresses
// that fail authentication.
type Registry interface {
	Bind(ctx context.Context, p ticketing.SIPBindingSaveParams) ([]ticketing.SIPBinding, error)
	Contacts(aor string) []ticketing.SIPBinding
	LockedOut(source string) (time.Time, bool)
	// KnownSource reports whether a softphone is registered from the IP.
	KnownSource(ip string) bool
	AuthFailed(ctx context.Context, source string) (until time.Time, newly bool)
	AuthSucceeded(ctx context.Context, source string)
}

// Config is what the SIP channel needs from the gateway's configuration.
type Config struct {
	// Listen is host:port for both UDP and TCP. Port 0 picks a free port
	// (the same for both).
	Listen string
	// Advertise is the host put in Via and Contact; default: the listen
	// host, or, when that is unspecified (0.0.0.0), the local address
	// toward the first trunk.
	Advertise string
	// Realm of the digest challenges; default "hotline".
	Realm string
	// Hotline is the desk's number: the diverting party on mobile forwards.
	Hotline string
	// ConsoleURL is where Call-Info points: CONSOLE/tickets/NUMBER.
	ConsoleURL string
	Plan       channels.PlanConfig
	Trunks     []Trunk
	// Passwords gives an agent's digest password by sip_user.
	Passwords func(user string) (string, bool)
	// MaxCalls bounds the calls in progress; more are refused with 503 and
	// Retry-After (default 4000).
	MaxCalls int
	// MaxSetups bounds the calls being set up at once (waiting for their
	// ticket and first leg); more are refused the same way (default 256).
	// It sheds a burst before it piles up into retransmissions.
	MaxSetups int
	Log       *slog.Logger
	Metrics   *metrics.SIP
}

// Server is the SIP channel: registrar, trunk ingress and B2BUA.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mon    *metrics.SIP
	intake Intake
	roster Roster
	reg    Registry
	auth   *digestAuth

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	udp  net.PacketConn
	tcp  net.Listener
	host string // advertised
	port int
	// laddr is the UDP listener's address: requests we send over UDP leave
	// from it, so that peers see one address for us.
	laddr sip.Addr

	dialogs dialogTable

	// ctx is the parent of every call; stop ends them at shutdown.
	ctx      context.Context
	stop     context.CancelFunc
	calls    sync.WaitGroup // inbound calls
	legs     sync.WaitGroup // outbound legs and in-dialog work
	active   atomic.Int64
	setups   atomic.Int64
	closing  atomic.Bool
	serveErr chan error
}

var tuneLibrary sync.Once

// transactionLinger is how long a finished transaction is kept.
const transactionLinger = 5 * time.Second

// New builds the SIP channel. Call Listen, then Run.
func New(cfg Config, intake Intake, roster Roster, reg Registry) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Realm == "" {
		cfg.Realm = "hotline"
	}
	if cfg.MaxCalls <= 0 {
		cfg.MaxCalls = 4000
	}
	if cfg.MaxSetups <= 0 {
		cfg.MaxSetups = 256
	}
	if cfg.Passwords == nil {
		cfg.Passwords = func(string) (string, bool) { return "", false }
	}
	// These are process-wide settings of the library, made once.
	//
	// sipgo refuses to send UDP messages over about 1,300 bytes and does
	// not fall back to TCP; carrier INVITEs with large SDP and many headers
	// exceed that. Loopback and LAN paths carry them fine.
	//
	// A finished transaction lingers to absorb retransmissions: 64·T1
	// (32 s) by the RFCs, for a BYE's server transaction (Timer J) and for
	// an answered INVITE on either side (RFC 6026 Timers L and M). Three
	// per call, each holding its messages, made most of the live heap
	// under load (about 250 MB at 500 calls/s), and the collector's pauses
	// with it. They linger transactionLinger instead, as Kamailio's tm
	// does by default (wt_timer): a retransmission comes within a few
	// T1, and whatever comes later is still handled, by the dialog layer
	// (an ACK, a 2xx re-ACKed by onStrayResponse) or as a new request.
	tuneLibrary.Do(func() {
		sip.UDPMTUSize = 65000
		sip.Timer_J, sip.Timer_L, sip.Timer_M = transactionLinger, transactionLinger, transactionLinger
	})
	s := &Server{cfg: cfg, log: cfg.Log, mon: cfg.Metrics, intake: intake, roster: roster, reg: reg,
		auth: newDigestAuth(cfg.Realm), serveErr: make(chan error, 2)}
	s.dialogs.init()
	s.ctx, s.stop = context.WithCancel(context.Background())
	sipLog := s.log.With("component", "sipgo")
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("Hotline"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(s.onStrayResponse),
		),
	)
	if err != nil {
		return nil, fmt.Errorf("sip: user agent: %w", err)
	}
	s.ua = ua
	if s.srv, err = sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog)); err != nil {
		return nil, fmt.Errorf("sip: server: %w", err)
	}
	if s.cli, err = sipgo.NewClient(ua, sipgo.WithClientLogger(sipLog)); err != nil {
		return nil, fmt.Errorf("sip: client: %w", err)
	}
	s.srv.OnInvite(s.onInvite)
	s.srv.OnAck(s.onAck)
	s.srv.OnBye(s.onBye)
	s.srv.OnCancel(s.onStrayCancel)
	s.srv.OnRegister(s.onRegister)
	s.srv.OnOptions(s.onOptions)
	s.srv.OnRequest(sip.UPDATE, s.onInDialog)
	s.srv.OnRequest(sip.INFO, s.onInDialog)
	return s, nil
}

// Listen binds the UDP and TCP listeners on one port.
func (s *Server) Listen() error {
	host, port, err := net.SplitHostPort(s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("sip: listen %q: %w", s.cfg.Listen, err)
	}
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenPacket("udp", net.JoinHostPort(host, port))
		if err != nil {
			return fmt.Errorf("sip: listen udp %s: %w", s.cfg.Listen, err)
		}
		p := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
		if err != nil {
			udp.Close()
			if port == "0" && attempt < 10 {
				continue // the free UDP port is taken for TCP: try another
			}
			return fmt.Errorf("sip: listen tcp %s: %w", s.cfg.Listen, err)
		}
		s.udp, s.tcp, s.port = udp, tcp, p
		break
	}
	s.sizeUDPBuffers()
	s.host = s.cfg.Advertise
	if s.host == "" {
		s.host = host
		if ip, err := netip.ParseAddr(host); err != nil || ip.IsUnspecified() {
			s.host = s.outwardIP()
		}
	}
	ua := s.udp.LocalAddr().(*net.UDPAddr)
	s.laddr = sip.Addr{IP: ua.IP, Port: ua.Port}
	return nil
}

// udpSocketBuffer is the receive and send buffer asked of the kernel for
// the UDP socket. Every message of every call passes through one socket;
// with Linux's default (about 208 KiB, some 400 INVITEs) a pause of the
// process of a few tens of milliseconds at 1,000 calls/s overflows it, and
// each dropped datagram costs the peer a 500 ms retransmission. The
// kernel caps the request at net.core.rmem_max / wmem_max.
const udpSocketBuffer = 4 << 20

// sizeUDPBuffers asks for udpSocketBuffer and logs what the kernel gave,
// so that an operator sees when net.core.rmem_max is what limits it.
func (s *Server) sizeUDPBuffers() {
	uc, ok := s.udp.(*net.UDPConn)
	if !ok {
		return
	}
	if err := uc.SetReadBuffer(udpSocketBuffer); err != nil {
		s.log.Warn("sip: cannot size the UDP receive buffer", "err", err)
	}
	if err := uc.SetWriteBuffer(udpSocketBuffer); err != nil {
		s.log.Warn("sip: cannot size the UDP send buffer", "err", err)
	}
	if got, err := socketBuffer(uc, syscall.SO_RCVBUF); err == nil && got < udpSocketBuffer {
		s.log.Warn("sip: the kernel capped the UDP receive buffer; raise net.core.rmem_max for bursts",
			"asked", udpSocketBuffer, "got", got)
	}
}

// outwardIP is the address the system routes toward the first trunk (no
// packet is sent), for a gateway listening on every address; 127.0.0.1
// without trunks.
func (s *Server) outwardIP() string {
	for _, t := range s.cfg.Trunks {
		if t.Address == "" {
			continue
		}
		c, err := net.Dial("udp", t.Address)
		if err != nil {
			continue
		}
		ip := c.LocalAddr().(*net.UDPAddr).IP.String()
		c.Close()
		return ip
	}
	return "127.0.0.1"
}

// Addr is the bound host:port (UDP and TCP).
func (s *Server) Addr() string { return net.JoinHostPort(s.host, strconv.Itoa(s.port)) }

// Run serves until ctx is done, then ends the calls in progress (BYE to
// both sides of a connected call, 503 to a ringing caller) and closes the
// listeners.
func (s *Server) Run(ctx context.Context) error {
	if s.udp == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.log.Info("SIP listening", "addr", s.Addr(), "transports", "udp,tcp")
	go func() { s.serveErr <- s.srv.ServeUDP(s.udp) }()
	go func() { s.serveErr <- s.srv.ServeTCP(s.tcp) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-s.serveErr:
		if err != nil {
			err = fmt.Errorf("sip: serve: %w", err)
		}
	}
	s.shutdown()
	return err
}

// shutdown ends every call and waits a while for their goodbyes.
func (s *Server) shutdown() {
	s.closing.Store(true)
	s.stop()
	done := make(chan struct{})
	go func() {
		s.calls.Wait()
		s.legs.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		s.log.Warn("sip: calls still ending after 5s; closing anyway")
	}
	s.udp.Close()
	s.tcp.Close()
	s.ua.Close()
}

// Active is the number of calls in progress.
func (s *Server) Active() int { return int(s.active.Load()) }

// respond sends a final or provisional response built from req.
func (s *Server) respond(tx sip.ServerTransaction, req *sip.Request, code int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if err := tx.Respond(res); err != nil {
		s.log.Debug("sip: respond failed", "code", code, "method", req.Method, "err", err)
	}
}

// refuse answers req with a StatusError.
func (s *Server) refuse(tx sip.ServerTransaction, req *sip.Request, e *StatusError) {
	var hdrs []sip.Header
	if e.RetryAfter > 0 {
		hdrs = append(hdrs, sip.NewHeader("Retry-After", strconv.Itoa(int(e.RetryAfter/time.Second))))
	}
	s.respond(tx, req, e.Code, e.Reason, hdrs...)
}

func (s *Server) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, 200, "OK", sip.NewHeader("Allow", allowed), sip.NewHeader("Accept", "application/sdp"))
}

const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, INFO"

// onStrayCancel answers a CANCEL that matches no transaction (RFC 3261
// §9.2); the transaction layer answers those that match.
func (s *Server) onStrayCancel(req *sip.Request, tx sip.ServerTransaction) {
	s.respond(tx, req, 481, "Call/Transaction Does Not Exist")
}

// onStrayResponse sees responses whose client transaction is gone: a 200
// to an INVITE retransmitted after the transaction ended must still be
// acknowledged, or the far end keeps sending it and then hangs up.
func (s *Server) onStrayResponse(res *sip.Response) {
	if !res.IsSuccess() || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE {
		return
	}
	if d := s.dialogs.byResponse(res); d != nil {
		d.ack(res)
	}
}

// newBranch is a Via branch (RFC 3261 magic cookie and 16 random chars).
func newBranch() string { return sip.GenerateBranchN(16) }

// noBuild is a client request option that leaves the request as built:
// every request the gateway sends carries its own headers.
func noBuild(*sipgo.Client, *sip.Request) error { return nil }

// send starts a client transaction for req.
func (s *Server) send(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	if s.closing.Load() && req.IsInvite() && req.To().Params.Has("tag") == false {
		return nil, errors.New("sip: shutting down")
	}
	return s.cli.TransactionRequest(ctx, req, noBuild)
}

// via makes our Via header for a request over transport.
func (s *Server) via(transport string) *sip.ViaHeader {
	v := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: transport, Host: s.host, Port: s.port,
		Params: sip.NewParams()}
	v.Params.Add("branch", newBranch())
	v.Params.Add("rport", "")
	return v
}

// contact is our Contact header for dialogs over transport.
func (s *Server) contact(transport string) *sip.ContactHeader {
	u := sip.Uri{Scheme: "sip", User: "hotline", Host: s.host, Port: s.port, UriParams: sip.NewParams()}
	if transport != "UDP" {
		u.UriParams.Add("transport", sip.NetworkToLower(transport))
	}
	return &sip.ContactHeader{Address: u}
}

// route sets where req goes and which socket it leaves from.
func (s *Server) route(req *sip.Request, transport, dest string) {
	req.SetTransport(transport)
	req.SetDestination(dest)
	if transport == "UDP" {
		req.Laddr = s.laddr
	}
}
