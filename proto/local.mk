# proto/: the wire protocol. brook.proto is compiled by protoc-c at build
# time; its output is never committed.
noinst_LIBRARIES += libbkproto.a
libbkproto_a_SOURCES = proto/protocol.h proto/protocol.c
nodist_libbkproto_a_SOURCES = proto/brook.pb-c.c proto/brook.pb-c.h
libbkproto_a_CFLAGS = $(AM_CFLAGS) $(PROTOBUF_C_CFLAGS)
BUILT_SOURCES += proto/brook.pb-c.h proto/brook.pb-c.c
CLEANFILES += proto/brook.pb-c.h proto/brook.pb-c.c
EXTRA_DIST += proto/brook.proto

proto/brook.pb-c.c proto/brook.pb-c.h: proto/brook.proto
	@$(MKDIR_P) proto
	$(AM_V_GEN)$(PROTOC_C) --proto_path=$(srcdir)/proto --c_out=proto $(srcdir)/proto/brook.proto

# BUILT_SOURCES orders only `make all/check/install`: a single target built
# in a fresh build dir (make tests/unit/test_batch) must also wait for the
# generated header, so the objects that include it (common/frame.c via
# libbkcommon, and the frame/protocol tests) depend on it explicitly.
$(libbkcommon_a_OBJECTS) $(tests_unit_test_frame_OBJECTS) \
$(tests_unit_test_protocol_OBJECTS): proto/brook.pb-c.h
