package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// simulateCall places a real SIP call to a running gateway, as the carrier
// trunk would: `hotline simulate call --to sip:4001160016@HOST:PORT --from
// 13800138000 --name 张三`. It prints each response, acknowledges the
// answer, talks for --talk, and hangs up (or is hung up on).
func simulateCall(ctx context.Context, env *cliEnv, args []string) error {
	fs := flag.NewFlagSet("simulate call", flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	to := fs.String("to", "sip:4001160016@127.0.0.1:5060", "the desk's number at the gateway, a sip `URI`")
	from := fs.String("from", "13800138000", "the caller's `NUMBER`")
	name := fs.String("name", "张三", "the caller's display `NAME` (UTF-8)")
	talk := fs.Duration("talk", 5*time.Second, "how long to stay on the line once answered")
	wait := fs.Duration("wait", 2*time.Minute, "how long to wait for an answer before hanging up (CANCEL)")
	privacy := fs.Bool("privacy", false, "withhold the number (Privacy: id)")
	local := fs.String("local", "", "local `ADDR` to send from (default: an address toward the gateway, free port)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: hotline simulate call --to sip:4001160016@HOST:PORT --from 13800138000 --name 张三\n\nPlaces a real SIP call over UDP, as the carrier trunk does (the gateway must allow this\naddress in sip.trunks[].allow).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected arguments: " + strings.Join(fs.Args(), " ")}
	}
	var target sip.Uri
	if err := sip.ParseUri(*to, &target); err != nil || target.Host == "" {
		return usageError{fmt.Sprintf("--to %q: want a sip URI such as sip:4001160016@127.0.0.1:5060", *to)}
	}
	if target.Port == 0 {
		target.Port = 5060
	}
	gw := net.JoinHostPort(target.Host, strconv.Itoa(target.Port))
	if *local == "" {
		// The address the system would use toward the gateway.
		c, err := net.Dial("udp", gw)
		if err != nil {
			return fmt.Errorf("simulate call: %w", err)
		}
		*local = net.JoinHostPort(c.LocalAddr().(*net.UDPAddr).IP.String(), "0")
		c.Close()
	}
	pc, err := net.ListenPacket("udp", *local)
	if err != nil {
		return fmt.Errorf("simulate call: listen %s: %w", *local, err)
	}
	laddr := pc.LocalAddr().(*net.UDPAddr)
	host, port := laddr.IP.String(), laddr.Port

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("hotline-simulate"))
	if err != nil {
		pc.Close()
		return err
	}
	defer ua.Close()
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		return err
	}
	cli, err := sipgo.NewClient(ua, sipgo.WithClientConnectionAddr(pc.LocalAddr().String()), sipgo.WithClientHostname(host), sipgo.WithClientPort(port))
	if err != nil {
		return err
	}
	contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: *from, Host: host, Port: port}}
	dua := &sipgo.DialogUA{Client: cli, ContactHDR: contact}
	hungUp := make(chan struct{})
	var dialog *sipgo.DialogClientSession
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		if dialog != nil && dialog.ReadBye(req, tx) == nil {
			close(hungUp)
			return
		}
		tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
	})
	srvCtx, stop := context.WithCancel(ctx)
	defer stop()
	go srv.ServeUDP(pc)
	go func() { <-srvCtx.Done(); pc.Close() }()
	// Requests leave from the listening socket once the transport knows it.
	for i := 0; ; i++ {
		if c, err := ua.TransportLayer().GetConnection("udp", pc.LocalAddr().String()); err == nil && c != nil {
			break
		}
		if i == 200 {
			return errors.New("simulate call: the UDP socket did not come up")
		}
		time.Sleep(5 * time.Millisecond)
	}

	fromHdr := &sip.FromHeader{DisplayName: strings.ReplaceAll(*name, `"`, `\"`),
		Address: sip.Uri{Scheme: "sip", User: *from, Host: host, Port: port}, Params: sip.NewParams()}
	fromHdr.Params.Add("tag", sip.GenerateTagN(16))
	hdrs := []sip.Header{fromHdr, sip.NewHeader("Content-Type", "application/sdp")}
	if *privacy {
		hdrs = append(hdrs, sip.NewHeader("Privacy", "id"))
	}
	sdp := fmt.Sprintf("v=0\r\no=simulate %d 1 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\nt=0 0\r\nm=audio %d RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n",
		time.Now().Unix(), host, host, port+2)
	start := time.Now()
	fmt.Fprintf(env.stdout, "calling %s from %q <%s> (%s)\n", *to, *name, *from, pc.LocalAddr())
	dialog, err = dua.Invite(ctx, target, []byte(sdp), hdrs...)
	if err != nil {
		return fmt.Errorf("simulate call: INVITE: %w", err)
	}
	defer dialog.Close()
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	err = dialog.WaitAnswer(wctx, sipgo.AnswerOptions{OnResponse: func(res *sip.Response) error {
		line := fmt.Sprintf("%6.2fs  %d %s", time.Since(start).Seconds(), res.StatusCode, res.Reason)
		if r := res.GetHeader("Reason"); r != nil {
			line += "  (" + r.Value() + ")"
		}
		if r := res.GetHeader("Retry-After"); r != nil {
			line += "  Retry-After: " + r.Value()
		}
		fmt.Fprintln(env.stdout, line)
		return nil
	}})
	var dr *sipgo.ErrDialogResponse
	switch {
	case errors.As(err, &dr):
		return fmt.Errorf("simulate call: refused: %d %s", dr.Res.StatusCode, dr.Res.Reason)
	case err != nil && wctx.Err() != nil:
		fmt.Fprintf(env.stdout, "%6.2fs  no answer within %v: hung up (CANCEL)\n", time.Since(start).Seconds(), *wait)
		return nil
	case err != nil:
		return fmt.Errorf("simulate call: %w", err)
	}
	if err := dialog.Ack(ctx); err != nil {
		return fmt.Errorf("simulate call: ACK: %w", err)
	}
	fmt.Fprintf(env.stdout, "%6.2fs  answered; talking for %v\n", time.Since(start).Seconds(), *talk)
	select {
	case <-hungUp:
		fmt.Fprintf(env.stdout, "%6.2fs  the desk hung up\n", time.Since(start).Seconds())
		return nil
	case <-time.After(*talk):
	case <-ctx.Done():
	}
	bctx, bcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer bcancel()
	if err := dialog.Bye(bctx); err != nil {
		return fmt.Errorf("simulate call: BYE: %w", err)
	}
	fmt.Fprintf(env.stdout, "%6.2fs  hung up\n", time.Since(start).Seconds())
	return nil
}
