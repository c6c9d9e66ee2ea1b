package cosem

import (
	"strconv"

	"github.com/amigo-ami/amigo/axdr"
)

// Interface class identifiers of the classes this package knows.
const (
	ClassData              uint16 = 1
	ClassRegister          uint16 = 3
	ClassExtendedRegister  uint16 = 4
	ClassDemandRegister    uint16 = 5
	ClassProfileGeneric    uint16 = 7
	ClassClock             uint16 = 8
	ClassScriptTable       uint16 = 9
	ClassSpecialDaysTable  uint16 = 11
	ClassAssociationLN     uint16 = 15
	ClassImageTransfer     uint16 = 18
	ClassActivityCalendar  uint16 = 20
	ClassRegisterMonitor   uint16 = 21
	ClassSingleAction      uint16 = 22
	ClassIECHDLCSetup      uint16 = 23
	ClassPushSetup         uint16 = 40
	ClassTCPUDPSetup       uint16 = 41
	ClassSecuritySetup     uint16 = 64
	ClassDisconnectControl uint16 = 70
	ClassLimiter           uint16 = 71
	ClassMBusClient        uint16 = 72
)

// AnyType in Attribute.Type marks an attribute whose type is a CHOICE
// (any simple type, as the value of a Data or Register).
const AnyType = axdr.TagDontCare

// Attribute describes one attribute of an interface class.
type Attribute struct {
	Index int8
	Name  string
	// Type is the A-XDR type the Blue Book gives the attribute, or AnyType
	// for a CHOICE. Where the Blue Book allows alternatives (a date-time
	// as octet-string or date-time) Type is the usual one and the
	// ready-made objects accept both.
	Type axdr.Tag
	// Static attributes are configuration; dynamic ones change by
	// themselves (measurements, states).
	Static bool
}

// Method describes one method of an interface class.
type Method struct {
	Index int8
	Name  string
}

// Class is the metadata of one interface class version.
type Class struct {
	ID         uint16
	Version    uint8
	Name       string
	Attributes []Attribute
	Methods    []Method
}

// Attribute returns the attribute with the given index.
func (c Class) Attribute(index int8) (Attribute, bool) {
	if index >= 1 && int(index) <= len(c.Attributes) && c.Attributes[index-1].Index == index {
		return c.Attributes[index-1], true
	}
	return Attribute{}, false
}

// Method returns the method with the given index.
func (c Class) Method(index int8) (Method, bool) {
	if index >= 1 && int(index) <= len(c.Methods) && c.Methods[index-1].Index == index {
		return c.Methods[index-1], true
	}
	return Method{}, false
}

// AttributeName returns the attribute's Blue Book name, or "attr N".
func (c Class) AttributeName(index int8) string {
	if a, ok := c.Attribute(index); ok {
		return a.Name
	}
	return "attr " + strconv.Itoa(int(index))
}

// MethodName returns the method's Blue Book name, or "method N".
func (c Class) MethodName(index int8) string {
	if m, ok := c.Method(index); ok {
		return m.Name
	}
	return "method " + strconv.Itoa(int(index))
}

// attrs builds an attribute list numbered from 1; logical_name is added
// in front of every class.
func attrs(list ...Attribute) []Attribute {
	out := make([]Attribute, 0, len(list)+1)
	out = append(out, Attribute{Index: 1, Name: "logical_name", Type: axdr.TagOctetString, Static: true})
	for i, a := range list {
		a.Index = int8(i + 2)
		out = append(out, a)
	}
	return out
}

func st(name string, t axdr.Tag) Attribute { return Attribute{Name: name, Type: t, Static: true} }
func dy(name string, t axdr.Tag) Attribute { return Attribute{Name: name, Type: t} }

func methods(names ...string) []Method {
	out := make([]Method, len(names))
	for i, n := range names {
		out[i] = Method{Index: int8(i + 1), Name: n}
	}
	return out
}

const (
	tOctets = axdr.TagOctetString
	tStruct = axdr.TagStructure
	tArray  = axdr.TagArray
	tEnum   = axdr.TagEnum
	tU8     = axdr.TagUint8
	tU16    = axdr.TagUint16
	tU32    = axdr.TagUint32
	tI8     = axdr.TagInt8
	tI16    = axdr.TagInt16
	tBool   = axdr.TagBoolean
	tBits   = axdr.TagBitString
)

// classes lists the supported class versions. Association LN is version
// 1 (access modes 0..6 for attributes, enum 0..2 for methods); Push setup
// is version 0.
var classes = []Class{
	{ID: ClassData, Version: 0, Name: "Data", Attributes: attrs(dy("value", AnyType))},
	{ID: ClassRegister, Version: 0, Name: "Register",
		Attributes: attrs(dy("value", AnyType), st("scaler_unit", tStruct)),
		Methods:    methods("reset")},
	{ID: ClassExtendedRegister, Version: 0, Name: "Extended register",
		Attributes: attrs(dy("value", AnyType), st("scaler_unit", tStruct), dy("status", AnyType), dy("capture_time", tOctets)),
		Methods:    methods("reset")},
	{ID: ClassDemandRegister, Version: 0, Name: "Demand register",
		Attributes: attrs(dy("current_average_value", AnyType), dy("last_average_value", AnyType), st("scaler_unit", tStruct),
			dy("status", AnyType), dy("capture_time", tOctets), dy("start_time_current", tOctets), st("period", tU32),
			st("number_of_periods", tU16)),
		Methods: methods("reset", "next_period")},
	{ID: ClassProfileGeneric, Version: 1, Name: "Profile generic",
		Attributes: attrs(dy("buffer", tArray), st("capture_objects", tArray), st("capture_period", tU32), st("sort_method", tEnum),
			st("sort_object", tStruct), dy("entries_in_use", tU32), st("profile_entries", tU32)),
		Methods: methods("reset", "capture")},
	{ID: ClassClock, Version: 0, Name: "Clock",
		Attributes: attrs(dy("time", tOctets), st("time_zone", tI16), dy("status", tU8), st("daylight_savings_begin", tOctets),
			st("daylight_savings_end", tOctets), st("daylight_savings_deviation", tI8), st("daylight_savings_enabled", tBool),
			st("clock_base", tEnum)),
		Methods: methods("adjust_to_quarter", "adjust_to_measuring_period", "adjust_to_minute", "adjust_to_preset_time",
			"preset_adjusting_time", "shift_time")},
	{ID: ClassScriptTable, Version: 0, Name: "Script table",
		Attributes: attrs(st("scripts", tArray)), Methods: methods("execute")},
	{ID: ClassSpecialDaysTable, Version: 0, Name: "Special days table",
		Attributes: attrs(st("entries", tArray)), Methods: methods("insert", "delete")},
	{ID: ClassAssociationLN, Version: 1, Name: "Association LN",
		Attributes: attrs(st("object_list", tArray), st("associated_partners_id", tStruct), st("application_context_name", tOctets),
			st("xDLMS_context_info", tStruct), st("authentication_mechanism_name", tOctets), st("secret", tOctets),
			dy("association_status", tEnum), st("security_setup_reference", tOctets)),
		Methods: methods("reply_to_HLS_authentication", "change_HLS_secret", "add_object", "remove_object")},
	{ID: ClassImageTransfer, Version: 0, Name: "Image transfer",
		Attributes: attrs(st("image_block_size", tU32), dy("image_transferred_blocks_status", tBits),
			dy("image_first_not_transferred_block_number", tU32), st("image_transfer_enabled", tBool),
			dy("image_transfer_status", tEnum), dy("image_to_activate_info", tArray)),
		Methods: methods("image_transfer_initiate", "image_block_transfer", "image_verify", "image_activate")},
	{ID: ClassActivityCalendar, Version: 0, Name: "Activity calendar",
		Attributes: attrs(st("calendar_name_active", tOctets), st("season_profile_active", tArray), st("week_profile_table_active", tArray),
			st("day_profile_table_active", tArray), st("calendar_name_passive", tOctets), st("season_profile_passive", tArray),
			st("week_profile_table_passive", tArray), st("day_profile_table_passive", tArray),
			st("activate_passive_calendar_time", tOctets)),
		Methods: methods("activate_passive_calendar")},
	{ID: ClassRegisterMonitor, Version: 0, Name: "Register monitor",
		Attributes: attrs(st("thresholds", tArray), st("monitored_value", tStruct), st("actions", tArray))},
	{ID: ClassSingleAction, Version: 0, Name: "Single action schedule",
		Attributes: attrs(st("executed_script", tStruct), st("type", tEnum), st("execution_time", tArray))},
	{ID: ClassIECHDLCSetup, Version: 1, Name: "IEC HDLC setup",
		Attributes: attrs(st("comm_speed", tEnum), st("window_size_transmit", tU8), st("window_size_receive", tU8),
			st("max_info_field_length_transmit", tU16), st("max_info_field_length_receive", tU16),
			st("inter_octet_time_out", tU16), st("inactivity_time_out", tU16), st("device_address", tU16))},
	{ID: ClassPushSetup, Version: 0, Name: "Push setup",
		Attributes: attrs(st("push_object_list", tArray), st("send_destination_and_method", tStruct), st("communication_window", tArray),
			st("randomisation_start_interval", tU16), st("number_of_retries", tU8), st("repetition_delay", tU16)),
		Methods: methods("push")},
	{ID: ClassTCPUDPSetup, Version: 0, Name: "TCP-UDP setup",
		Attributes: attrs(st("TCP-UDP_port", tU16), st("IP_reference", tOctets), st("MSS", tU16), st("nb_of_sim_conn", tU8),
			st("inactivity_time_out", tU16))},
	{ID: ClassSecuritySetup, Version: 1, Name: "Security setup",
		Attributes: attrs(st("security_policy", tEnum), st("security_suite", tEnum), st("client_system_title", tOctets),
			st("server_system_title", tOctets), st("certificates", tArray)),
		Methods: methods("security_activate", "key_transfer", "key_agreement", "generate_key_pair",
			"generate_certificate_request", "import_certificate", "export_certificate", "remove_certificate")},
	{ID: ClassDisconnectControl, Version: 0, Name: "Disconnect control",
		Attributes: attrs(dy("output_state", tBool), dy("control_state", tEnum), st("control_mode", tEnum)),
		Methods:    methods("remote_disconnect", "remote_reconnect")},
	{ID: ClassLimiter, Version: 0, Name: "Limiter",
		Attributes: attrs(st("monitored_value", tStruct), dy("threshold_active", AnyType), st("threshold_normal", AnyType),
			st("threshold_emergency", AnyType), st("min_over_threshold_duration", tU32), st("min_under_threshold_duration", tU32),
			st("emergency_profile", tStruct), st("emergency_profile_group_id_list", tArray), dy("emergency_profile_active", tBool),
			st("actions", tStruct))},
	{ID: ClassMBusClient, Version: 1, Name: "M-Bus client",
		Attributes: attrs(st("mbus_port_reference", tOctets), st("capture_definition", tArray), st("capture_period", tU32),
			st("primary_address", tU8), st("identification_number", tU32), st("manufacturer_id", tU16), st("version", tU8),
			st("device_type", tU8), dy("access_number", tU8), dy("status", tU8), dy("alarm", tU8), st("configuration", tU16),
			dy("encryption_key_status", tEnum)),
		Methods: methods("slave_install", "slave_deinstall", "capture", "reset_alarm", "synchronize_clock", "data_send",
			"set_encryption_key", "transfer_key")},
}

var classByID = func() map[uint16]*Class {
	m := make(map[uint16]*Class, len(classes))
	for i := range classes {
		m[classes[i].ID] = &classes[i]
	}
	return m
}()

// ClassInfo returns the metadata of the supported version of class id.
// The returned Class shares its slices with the package; do not modify
// them.
func ClassInfo(id uint16) (Class, bool) {
	c, ok := classByID[id]
	if !ok {
		return Class{}, false
	}
	return *c, true
}

// Classes returns the metadata of every supported class, by class id.
func Classes() []Class {
	out := make([]Class, len(classes))
	copy(out, classes)
	return out
}

// ClassName returns the Blue Book name of class id, or "class N" for one
// this package does not know.
func ClassName(id uint16) string {
	if c, ok := classByID[id]; ok {
		return c.Name
	}
	return "class " + strconv.Itoa(int(id))
}

// AttributeName returns the name of attribute index of class id, for logs.
func AttributeName(classID uint16, index int8) string {
	if c, ok := classByID[classID]; ok {
		return c.AttributeName(index)
	}
	if index == 1 {
		return "logical_name"
	}
	return "attr " + strconv.Itoa(int(index))
}

// MethodName returns the name of method index of class id, for logs.
func MethodName(classID uint16, index int8) string {
	if c, ok := classByID[classID]; ok {
		return c.MethodName(index)
	}
	return "method " + strconv.Itoa(int(index))
}
