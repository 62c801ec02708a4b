/* ref_legacy.c - scalar reference kernels (placeholder: this family is being written). */
#include "kernels.h"

void tc_ref_register_legacy(tc_kernel_table *k)
{
    (void)k;
}
