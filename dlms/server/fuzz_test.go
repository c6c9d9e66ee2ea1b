package server

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/cosem"
	"github.com/amigo-ami/amigo/dlms/apdu"
	"github.com/amigo-ami/amigo/dlms/security"
)

var fuzzCtoS = mustHex("0102030405060708090A0B0C0D0E0F10")
var fuzzStoC = mustHex("A1A2A3A4A5A6A7A8A9AAABACADAEAFB0")

func fuzzDevice(t testing.TB) *Device {
	return &Device{
		Tree:        newTestTree(t, treeValues{clock: traceClock, register: axdr.Uint16(5), rows: profileRows(clockOctets, 60)}),
		Address:     1,
		SystemTitle: serverTitle,
		Associations: []Association{
			{ClientSAP: 16, MaxPDU: 128},
			{ClientSAP: 17, Authentication: security.MechanismLLS, Secret: testPassword},
			{ClientSAP: 1, Authentication: security.MechanismHLSGMAC, Policy: security.PolicyAuthenticatedEncrypted, Keys: testKeys(), MaxPDU: 256},
		},
		MaxReassembly: 4096,
		Challenge:     func(int) ([]byte, error) { return fuzzStoC, nil },
	}
}

// hlsPrelude is the AARQ and HLS reply that associate client SAP 1 with
// fuzzDevice, with client invocation counters 1 and 3.
func hlsPrelude(t testing.TB) [][]byte {
	ir := mustAppend(t, &apdu.InitiateRequest{DLMSVersion: 6, Conformance: 0x401E5D, ClientMaxReceivePDUSize: 0xFFFF})
	ui, err := security.Wrap(nil, security.Global, 0x30, testKeys(), clientTitle, 1, ir)
	if err != nil {
		t.Fatal(err)
	}
	aarq := mustAppend(t, &apdu.AARQ{ApplicationContext: apdu.ContextLNCiphered, CallingAPTitle: clientTitle,
		SenderACSERequirements: apdu.AuthenticationRequirement(), HasMechanismName: true, MechanismName: apdu.MechanismHLSGMAC,
		CallingAuthenticationValue: fuzzCtoS, UserInformation: ui})
	ex := security.Exchange{ClientSystemTitle: clientTitle, ServerSystemTitle: serverTitle, CtoS: fuzzCtoS, StoC: fuzzStoC}
	f, err := ex.GMACResponse(security.Client, 0, testKeys(), 2)
	if err != nil {
		t.Fatal(err)
	}
	p := axdr.OctetString(f)
	reply := mustAppend(t, &apdu.ActionRequestNormal{InvokeID: 0xC1, Parameters: &p,
		Method: apdu.MethodDescriptor{ClassID: cosem.ClassAssociationLN, InstanceID: cosem.CurrentAssociation, MethodID: 1}})
	w, err := security.WrapGeneral(nil, security.Global, 0x30, testKeys(), clientTitle, 3, reply)
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{aarq, w}
}

// FuzzServeAPDU feeds arbitrary APDUs to a session. The first byte picks
// the starting state (idle, associated in clear, associated with HLS-GMAC
// and ciphering; in the last mode the harness ciphers each APDU so that the
// fuzzer reaches the services); the rest is a sequence of APDUs, each
// preceded by a two-octet length.
func FuzzServeAPDU(f *testing.F) {
	plainAARQ := mustHex("601DA109060760857405080101BE10040E01000000065F1F0400401E5DFFFF")
	frame := func(mode byte, apdus ...string) []byte {
		b := []byte{mode}
		for _, h := range apdus {
			a := mustHex(h)
			b = binary.BigEndian.AppendUint16(b, uint16(len(a)))
			b = append(b, a...)
		}
		return b
	}
	f.Add(frame(0, "601DA109060760857405080101BE10040E01000000065F1F0400401E5DFFFF", "C001C100080000010000FF0200"))
	f.Add(frame(0, "6033A1090607608574050801018A0207808B0760857405080201AC0780054775727578BE10040E01000000065F1F0400401E5DFFFF"))
	f.Add(frame(1, "C001C100070100630100FF0200", "C002C100000001", "C002C100000002"))
	f.Add(frame(1, "C001C100070100630100FF0201010204020412000809060000010000FF0F02120000090C07EA0B17FF14160000000000090C07EA0B17FF161600000000000100"))
	f.Add(frame(1, "C102C300080000010000FF020000000001070D090C07EA0B17", "C103C30100000002050115162500", "6203800100"))
	f.Add(frame(1, "C302C60046000060030AFF020000000001010F", "C303C601000000020100"))
	f.Add(frame(2, "C001C100030101151900FF0200", "C001C100070100630100FF0200", "C002C100000001"))
	f.Add(frame(2, "6228800100BE230421211F30000003EFD0E7B27E99CD984C487316F9A5345FD6E8829E24187617BBF35E"))
	f.Add(frame(1, "C0", "C001", "D80102", "FF"))
	prelude := hlsPrelude(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		d := fuzzDevice(t)
		mode := data[0] % 3
		sap := map[byte]uint16{0: 17, 1: 16, 2: 1}[mode]
		s := d.newSession(ClientInfo{ClientSAP: sap})
		ctx := context.Background()
		if err := d.init(); err != nil {
			t.Fatal(err)
		}
		switch mode {
		case 1:
			if _, err := s.handle(ctx, plainAARQ); err != nil || s.st != stAssociated {
				t.Fatalf("plain association: %v", err)
			}
		case 2:
			for _, a := range prelude {
				if _, err := s.handleSafe(ctx, a); err != nil {
					t.Fatalf("HLS association: %v", err)
				}
			}
			if s.st != stAssociated {
				t.Fatal("HLS association not established")
			}
		}
		ic := uint32(3)
		rest := data[1:]
		for len(rest) >= 2 {
			n := int(binary.BigEndian.Uint16(rest))
			rest = rest[2:]
			if n > len(rest) {
				n = len(rest)
			}
			req := rest[:n:n]
			rest = rest[n:]
			if mode == 2 && len(req) > 0 && req[0] != apdu.TagAARQ && req[0] != apdu.TagRLRQ && !security.IsCiphered(req[0]) {
				ic++
				w, err := security.WrapGeneral(nil, security.Global, 0x30, testKeys(), clientTitle, ic, req)
				if err != nil {
					t.Fatal(err)
				}
				req = w
			}
			if _, err := s.handle(ctx, req); err != nil {
				// Ending the connection is a valid reaction; it must just
				// not panic.
				return
			}
		}
	})
}
