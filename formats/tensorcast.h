/* tensorcast.h - public API (work in progress: filled in by the foundation commit). */
#ifndef TENSORCAST_H
#define TENSORCAST_H
#include "tc_dtype.h"
#include "quant.h"
#endif
