/* e2ee: end-to-end encrypted direct and group messaging. Umbrella header. */
#ifndef E2EE_E2EE_H
#define E2EE_E2EE_H

#include "e2ee/client.h"
#include "e2ee/error.h"
#include "e2ee/export.h"

#endif
