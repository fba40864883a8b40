<?php
/**
 * The widget identity contract (PROTOCOL.md, "The widget on a shop page"): the shop signs the
 * shopper's email with the chat inbox's secret, HMAC-SHA256, lowercase hex, over exactly the
 * string it passes as `email`. The helpdesk checks it with helpdesk.chat.visitors.signature_ok.
 *
 * @package HelpdeskWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The plugin's settings with every key present.
 *
 * @return array{url: string, site_key: string, secret: string}
 */
function helpdesk_widget_options() {
	$saved = get_option( HELPDESK_WIDGET_OPTION, array() );
	$saved = is_array( $saved ) ? $saved : array();
	return array(
		'url'      => isset( $saved['url'] ) ? (string) $saved['url'] : '',
		'site_key' => isset( $saved['site_key'] ) ? (string) $saved['site_key'] : '',
		'secret'   => isset( $saved['secret'] ) ? (string) $saved['secret'] : '',
	);
}

/**
 * HMAC-SHA256 of the email, keyed with the inbox secret, as lowercase hex.
 *
 * @param string $email  The address exactly as it is passed to helpdesk('identify').
 * @param string $secret The chat inbox's secret (Admin → Inboxes → Chat settings).
 * @return string
 */
function helpdesk_widget_identity_hmac( $email, $secret ) {
	return hash_hmac( 'sha256', (string) $email, (string) $secret );
}

/**
 * The identity of a logged-in customer, or null for a guest (or without a secret).
 *
 * @param WP_User|object|null $user   The current user.
 * @param string              $secret The inbox secret.
 * @return array{email: string, name: string, hmac: string}|null
 */
function helpdesk_widget_identity( $user, $secret ) {
	if ( ! $user || empty( $user->ID ) || '' === (string) $secret ) {
		return null;
	}
	$email = trim( (string) $user->user_email );
	if ( '' === $email ) {
		return null;
	}
	// WooCommerce and WordPress keep first and last name on the user; the display name is the fallback.
	$first = isset( $user->first_name ) ? (string) $user->first_name : '';
	$last  = isset( $user->last_name ) ? (string) $user->last_name : '';
	$name  = trim( $first . ' ' . $last );
	if ( '' === $name ) {
		$name = isset( $user->display_name ) ? (string) $user->display_name : '';
	}
	return array(
		'email' => $email,
		'name'  => $name,
		'hmac'  => helpdesk_widget_identity_hmac( $email, $secret ),
	);
}
