/* fuzz_det.h - deterministic getrandom() for the fuzz targets (fuzz_det.c). */
#ifndef HV_FUZZ_DET_H
#define HV_FUZZ_DET_H

/* Restarts the id sequence: call first thing for each input. */
void fuzz_det_reset(void);

#endif
