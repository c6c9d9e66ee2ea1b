package cosem

import (
	"github.com/amigo-ami/amigo/axdr"
	"github.com/amigo-ami/amigo/obis"
)

// CurrentAssociation is the logical name that always means the
// association the request arrives in.
var CurrentAssociation = obis.Code{0, 0, 40, 0, 0, 255}

// Association states (association_status).
const (
	NonAssociated      uint8 = 0
	AssociationPending uint8 = 1
	Associated         uint8 = 2
)

// XDLMSContext is xDLMS_context_info.
type XDLMSContext struct {
	Conformance      uint32 // the 24 conformance bits, bit 0 the most significant
	MaxReceivePDU    uint16
	MaxSendPDU       uint16
	DLMSVersion      uint8
	QualityOfService int8
	CipheringInfo    []byte
}

// Data returns structure{bit-string(24), long-unsigned, long-unsigned,
// unsigned, integer, octet-string}.
func (x XDLMSContext) Data() axdr.Data {
	c := []byte{byte(x.Conformance >> 16), byte(x.Conformance >> 8), byte(x.Conformance)}
	return axdr.Structure(axdr.BitString(c, 24), axdr.Uint16(x.MaxReceivePDU), axdr.Uint16(x.MaxSendPDU),
		axdr.Uint8(x.DLMSVersion), axdr.Int8(x.QualityOfService), axdr.OctetString(append([]byte(nil), x.CipheringInfo...)))
}
