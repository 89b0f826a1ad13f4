/* version: closeloop's version, one definition for both programs, their --version, the
 * User-Agent sent to trackers and the closeloop_build_info metric. */
#ifndef CLOSELOOP_VERSION_H
#define CLOSELOOP_VERSION_H

#define CL_VERSION "0.1.0"

#endif
