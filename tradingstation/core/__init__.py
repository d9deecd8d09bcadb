"""The core: what every other layer shares and nothing else of the project is imported by.

``calendar`` (NYSE sessions from exchange_calendars, New York time), ``schemas`` (the bar
contract, the dataset registry, validation and quarantine), ``errors`` (errors a user can act
on), ``universe_lists`` (the bundled constituent lists).
"""
