/* e2ee: symbol export macro for the public API. */
#ifndef E2EE_EXPORT_H
#define E2EE_EXPORT_H

#if defined(E2EE_BUILDING_LIBRARY) && defined(__GNUC__)
#define E2EE_API __attribute__((visibility("default")))
#else
#define E2EE_API
#endif

#if defined(__GNUC__)
#define E2EE_MUST_CHECK __attribute__((warn_unused_result))
#else
#define E2EE_MUST_CHECK
#endif

#endif
