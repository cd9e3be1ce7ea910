libsio_core_la_SOURCES +=

