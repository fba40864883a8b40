<?php
/**
 * The embed on the shop's pages: widget.js in the footer with data-site, and before it the queue
 * stub plus, for a logged-in customer, helpdesk('identify', {email, name, hmac}). The secret
 * itself never reaches the page: only the HMAC it made.
 *
 * @package HelpdeskWidget
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The helpdesk's base URL, without a trailing slash, or '' when it is not an http(s) URL.
 *
 * @param string $url As saved.
 * @return string
 */
function helpdesk_widget_base_url( $url ) {
	$url = untrailingslashit( trim( (string) $url ) );
	return preg_match( '#^https?://[^/\s]+#i', $url ) ? $url : '';
}

/**
 * The inline script that runs before widget.js: the command queue, and the identity if any.
 *
 * @param array|null $identity From helpdesk_widget_identity().
 * @return string JavaScript; every value is JSON with <, >, &, ' and " escaped, so no text of the
 *                customer's can close the script element.
 */
function helpdesk_widget_inline_js( $identity ) {
	$js = 'window.helpdesk = window.helpdesk || function(){(helpdesk.q = helpdesk.q || []).push(arguments)};';
	if ( is_array( $identity ) ) {
		$json = wp_json_encode( $identity, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT );
		if ( false !== $json ) {
			$js .= "\nhelpdesk('identify', " . $json . ');';
		}
	}
	return $js;
}

/**
 * Hook of wp_enqueue_scripts: widget.js in the footer, async, once the plugin is configured.
 */
function helpdesk_widget_enqueue() {
	$options = helpdesk_widget_options();
	$base    = helpdesk_widget_base_url( $options['url'] );
	if ( '' === $base || '' === $options['site_key'] ) {
		return;
	}
	wp_enqueue_script(
		HELPDESK_WIDGET_HANDLE,
		esc_url_raw( $base . '/widget.js' ),
		array(),
		null, // The helpdesk serves its own current loader; no ?ver= to go stale.
		array(
			'in_footer' => true,
			'strategy'  => 'async',
		)
	);
	$identity = is_user_logged_in() ? helpdesk_widget_identity( wp_get_current_user(), $options['secret'] ) : null;
	wp_add_inline_script( HELPDESK_WIDGET_HANDLE, helpdesk_widget_inline_js( $identity ), 'before' );
}

/**
 * Filter of script_loader_tag: the loader finds its site key in data-site on its own tag.
 *
 * @param string $tag    The <script> element WordPress made.
 * @param string $handle Its handle.
 * @param string $src    Its URL.
 * @return string
 */
function helpdesk_widget_script_tag( $tag, $handle, $src ) {
	if ( HELPDESK_WIDGET_HANDLE !== $handle ) {
		return $tag;
	}
	$options = helpdesk_widget_options();
	return preg_replace(
		'/<script\b/',
		'<script data-site="' . esc_attr( $options['site_key'] ) . '"',
		$tag,
		1
	);
}
