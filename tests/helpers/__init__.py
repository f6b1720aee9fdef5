"""What the tests share: sample files, servers, the template's reader, clients and assertions.

Test files import from here, never from one another (a test module is collected, not imported).
"""
