# broker/: brookd. So far: the partition log (segments, sparse index,
# recovery, retention) and the broker's checkpoint files.
noinst_LIBRARIES += libbkbroker.a
libbkbroker_a_SOURCES = \
	broker/segment.h broker/segment.c \
	broker/index.h broker/index.c \
	broker/log.h broker/log.c \
	broker/epoch.h broker/epoch.c \
	broker/checkpoint.h broker/checkpoint.c

BK_BROKER_LIBS = libbkbroker.a $(BK_COMMON_LIBS)
