#ifndef LUX_VERSION_H
#define LUX_VERSION_H
#define LUX_VERSION "0.1.0"
#endif
