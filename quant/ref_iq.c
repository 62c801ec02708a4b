/* ref_iq.c - scalar reference kernels (placeholder: this family is being written). */
#include "kernels.h"

void tc_ref_register_iq(tc_kernel_table *k)
{
    (void)k;
}
