package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/labmeter"
	"github.com/amigo-ami/amigo/dlms/security"
	"github.com/amigo-ami/amigo/dlms/server"
	"github.com/amigo-ami/amigo/iec62056"
	"github.com/amigo-ami/amigo/logging"
)

// dlmsServe runs the lab meter on the wrapper and HDLC: the peer for the
// client subcommands, and what another vendor's head-end can be pointed at.
func dlmsServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dlms serve", "[flags]",
		"Runs a lab meter (clock, energy registers, 15-minute load profile, disconnect control)\n"+
			"that answers DLMS/COSEM over the TCP wrapper and HDLC, optionally after a mode E sign-on.\n"+
			"Associations: client 16 public (no security, read-only); client 17 LLS with --password;\n"+
			"client 1 management with HLS-GMAC and authenticated encryption when --ek and --ak are given.\n"+
			"Keys and password may come from AMIGO_DLMS_EK, AMIGO_DLMS_AK and AMIGO_DLMS_PASSWORD.", stderr)
	wrapperAddr := fs.String("wrapper", "127.0.0.1:4059", "TCP wrapper listen `address` (empty: none)")
	hdlcAddr := fs.String("hdlc", "", "HDLC over TCP listen `address` (empty: none)")
	modeEAddr := fs.String("mode-e", "", "HDLC after IEC 62056-21 mode E sign-on, listen `address` (empty: none)")
	serial := fs.String("serial", "AMI00000001", "meter serial `number`")
	logical := fs.Uint("server", 1, "logical device `address`")
	password := fs.String("password", "", "LLS `password` of client 17 (or AMIGO_DLMS_PASSWORD)")
	ek := fs.String("ek", "", "global unicast encryption key `hex` for client 1 (or AMIGO_DLMS_EK)")
	ak := fs.String("ak", "", "authentication key `hex` for client 1 (or AMIGO_DLMS_AK)")
	title := fs.String("system-title", "414D490000000001", "meter system title, 8 bytes `hex`")
	days := fs.Int("days", 10, "`days` of load profile the meter holds")
	tz := fs.Int("tz", 0, "clock time zone: UTC minus local time in `minutes` (CET is -60)")
	idle := fs.Duration("idle-timeout", server.DefaultInactivityTimeout, "drop a client silent this `long`, as real meters do (0: never)")
	logFormat := fs.String("log-format", "auto", "log `format`: text, json or auto")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *wrapperAddr == "" && *hdlcAddr == "" && *modeEAddr == "" {
		return usageError{errors.New("nothing to listen on: give --wrapper, --hdlc or --mode-e")}
	}
	log, err := logging.New(stderr, *logFormat, "info")
	if err != nil {
		return usageError{err}
	}
	st, err := hexFlag("system-title", *title, "", 8)
	if err != nil {
		return err
	}
	dev := &server.Device{}
	// 0.0.43.1.0.255 tells the management client where its invocation
	// counter stands, so a client without stored state can resume above it.
	lab, err := labmeter.New(labmeter.Config{Serial: *serial, Days: *days, TimeZone: int16(*tz), InvocationCounter: func() uint32 {
		ic, _ := dev.LastClientIC(1)
		return ic
	}})
	if err != nil {
		return err
	}
	counter := security.NewCounter(1, nil)
	*dev = server.Device{
		Tree: lab.Tree, Address: uint16(*logical), SystemTitle: st, Counter: counter, Logger: log, InactivityTimeout: inactivity(*idle),
		OnSecurityEvent: func(kind server.SecurityEvent, sap uint16) {
			log.Warn("security event", "event", kind, "client", sap)
		},
	}
	dev.Associations = append(dev.Associations, server.Association{ClientSAP: 16, Rights: cosem.ReadOnlyAccess})
	pw := *password
	if pw == "" {
		pw = os.Getenv("AMIGO_DLMS_PASSWORD")
	}
	if pw != "" {
		dev.Associations = append(dev.Associations, server.Association{ClientSAP: 17, Authentication: security.MechanismLLS, Secret: []byte(pw)})
	}
	ekb, err := hexFlag("ek", *ek, "AMIGO_DLMS_EK")
	if err != nil {
		return err
	}
	akb, err := hexFlag("ak", *ak, "AMIGO_DLMS_AK")
	if err != nil {
		return err
	}
	if ekb != nil && akb != nil {
		var keys security.Keys
		if keys.Unicast, err = security.NewKey(ekb); err != nil {
			return usageError{fmt.Errorf("--ek: %v", err)}
		}
		if keys.Authentication, err = security.NewKey(akb); err != nil {
			return usageError{fmt.Errorf("--ak: %v", err)}
		}
		dev.Associations = append(dev.Associations, server.Association{ClientSAP: 1, Authentication: security.MechanismHLSGMAC,
			Policy: security.PolicyAuthenticatedEncrypted, Keys: keys})
	} else if ekb != nil || akb != nil {
		return usageError{errors.New("give both --ek and --ak, or neither")}
	}
	srv, err := server.NewServer(dev)
	if err != nil {
		return err
	}
	srv.Logger = log
	srv.Identification = iec62056.Identification{Manufacturer: "AMI", BaudChar: '5', Ident: *serial}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 3)
	n := 0
	listen := func(kind, addr string, serve func(net.Listener) error) error {
		if addr == "" {
			return nil
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fmt.Errorf("%s: address %s is already in use", kind, addr)
			}
			return fmt.Errorf("%s: %w", kind, err)
		}
		n++
		log.Info("lab meter listening", "link", kind, "addr", ln.Addr().String(), "serial", *serial,
			"clients", clientList(dev.Associations))
		go func() { errc <- serve(ln) }()
		return nil
	}
	if err := listen("wrapper", *wrapperAddr, func(ln net.Listener) error { return srv.ListenAndServeWrapper(ctx, ln) }); err != nil {
		return err
	}
	if err := listen("hdlc", *hdlcAddr, func(ln net.Listener) error { return srv.ServeHDLC(ctx, ln, false) }); err != nil {
		return err
	}
	if err := listen("mode-e", *modeEAddr, func(ln net.Listener) error { return srv.ServeHDLC(ctx, ln, true) }); err != nil {
		return err
	}
	var first error
	for range n {
		if err := <-errc; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, net.ErrClosed) && first == nil {
			first = err
			stop()
		}
	}
	log.Info("lab meter stopped")
	return first
}

func clientList(as []server.Association) string {
	var s []string
	for _, a := range as {
		s = append(s, strconv.Itoa(int(a.ClientSAP))+"="+a.Authentication.String())
	}
	return strings.Join(s, ",")
}
